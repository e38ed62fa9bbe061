package io.github.stopstreaming.fs

import java.nio.file.{Files, Paths}

import io.github.stopstreaming.core.{Lookup, NamedThreads, StopSource}
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.{StreamingQuery, Trigger}
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** Marker files through a faulty file system: failures never stop a query; a real deletion does. */
class MarkerFaultSuite extends AnyFunSuite with Eventually with BeforeAndAfterAll {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(60, Seconds), Span(0.05, Seconds))

  private val PollMs = 100L
  private val localDir = Files.createTempDirectory("stop-dir")
  private lazy val spark: SparkSession = SparkSession
    .builder()
    .master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
    .config("spark.stopstreaming.rest.port", "0")
    .config("spark.hadoop.fs.faulty.impl", classOf[FaultyFileSystem].getName)
    .config("spark.stopstreaming.fs.stopDir", s"faulty://$localDir")
    .config("spark.stopstreaming.fs.pollInterval", s"${PollMs}ms")
    .getOrCreate()

  override def afterAll(): Unit = spark.stop()

  private def plane = StopStreamingRuntime.plane.get

  private def startIdle(): StreamingQuery =
    spark.readStream
      .format("rate")
      .load()
      .writeStream
      .format("noop")
      .trigger(Trigger.ProcessingTime("10 minutes"))
      .start()

  private def marker(q: StreamingQuery) = localDir.resolve(q.id.toString)

  private def sleepPolls(n: Int): Unit = Thread.sleep(PollMs * n)

  private def assertUntouched(q: StreamingQuery): Unit = {
    assert(q.isActive, "a fault stopped the query")
    assert(plane.registry.runningEntry(q.id).exists(_.stop.isEmpty))
  }

  // First, while the shared session is not started yet: its stop directory fails at start-up.
  test("a stop directory that fails at start-up does not fail the application; it is tried again") {
    FaultyFileSystem.reset()
    FaultyFileSystem.throwOnStatus.set(true)
    val q =
      try {
        val started = startIdle()
        sleepPolls(5)
        assert(!Files.exists(marker(started)), "no marker while the directory cannot be used")
        assert(started.isActive)
        started
      } finally FaultyFileSystem.throwOnStatus.set(false)
    eventually(assert(Files.exists(marker(q)), "the retry found the directory and wrote the marker"))
    q.stop()
  }

  test("listing failures, a missing directory, a stale listing or failing checks never stop a query") {
    FaultyFileSystem.reset()
    val q = startIdle()
    eventually {
      val json = new String(Files.readAllBytes(marker(q)), "UTF-8")
      assert(json.contains(q.id.toString) && json.contains(q.runId.toString) && json.contains("controlUrl"))
    }

    for (fault <- Seq(FaultyFileSystem.failListing, FaultyFileSystem.dirMissing, FaultyFileSystem.hideMarkers)) {
      fault.set(true)
      sleepPolls(10)
      fault.set(false)
      assertUntouched(q)
    }
    // The listing misses the marker and the direct check fails: still not a deletion.
    FaultyFileSystem.hideMarkers.set(true)
    FaultyFileSystem.throwOnStatus.set(true)
    sleepPolls(10)
    FaultyFileSystem.reset()
    assertUntouched(q)

    // A real deletion through the same file system does stop it, gracefully and from "file".
    Files.delete(marker(q))
    eventually(assert(!q.isActive))
    q.awaitTermination()
    val stop = plane.registry.lookup(q.id.toString) match {
      case Lookup.Running(t) => t.stop.get
      case Lookup.Ended(e) => e.stop.get
      case other => fail(s"query not found: $other")
    }
    assert(stop.source == StopSource.File)
  }

  test("one listing per poll serves every watched query (1, 10, 100 queries)") {
    FaultyFileSystem.reset()
    val figures = Seq(1, 10, 100).map { n =>
      val qs = (1 to n).map(_ => startIdle())
      eventually(assert(qs.forall(q => Files.exists(marker(q)))))
      val threads = NamedThreads.count()
      sleepPolls(2)
      val (l0, s0) = (FaultyFileSystem.listCalls.get, FaultyFileSystem.statusCalls.get)
      val t0 = System.nanoTime()
      sleepPolls(20)
      val polls = (System.nanoTime() - t0) / 1e6 / PollMs
      val (l1, s1) = (FaultyFileSystem.listCalls.get, FaultyFileSystem.statusCalls.get)
      val callsPerPoll = (l1 - l0 + s1 - s0) / polls
      qs.foreach(_.stop())
      eventually(assert(qs.forall(q => !Files.exists(marker(q))), "markers are removed when queries end"))
      (n, callsPerPoll, threads)
    }
    figures.foreach { case (n, c, t) => info(f"$n%3d watched queries: $c%.2f file system calls per poll, $t threads") }
    figures.foreach { case (_, c, _) => assert(c <= 1.2, s"calls per poll grew: $figures") }
    assert(figures.map(_._3).max - figures.map(_._3).min <= 3, s"threads grew with queries: $figures")
    val report = figures.map { case (n, c, t) => s""""q$n": {"callsPerPoll": $c, "threads": $t}""" }
    Files.write(Paths.get("target", "fs-calls-per-poll.json"), report.mkString("{", ", ", "}").getBytes("UTF-8"))
  }
}
