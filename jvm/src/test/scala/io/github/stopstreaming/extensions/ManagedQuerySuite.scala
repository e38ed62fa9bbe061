package io.github.stopstreaming.extensions

import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.atomic.AtomicInteger

import scala.jdk.CollectionConverters._

import io.github.stopstreaming.core._
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.StreamingQuery
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** Rows a managed query wrote, across its runs; a non-idempotent sink (it appends). */
object ManagedSink {
  val values = new ConcurrentLinkedQueue[Long]()
  val batches = new ConcurrentLinkedQueue[Long]()
}

/** The Scala API of managed queries on a real local Spark, with the plugin. */
class ManagedQuerySuite extends AnyFunSuite with Eventually with BeforeAndAfterAll {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(60, Seconds), Span(0.05, Seconds))

  private lazy val spark: SparkSession = SparkSession
    .builder()
    .master("local[2]")
    .appName("stopstreaming-managed")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
    .config("spark.stopstreaming.rest.enabled", "false")
    .getOrCreate()

  override def afterAll(): Unit = spark.stop()

  private def plane: ControlPlane = StopStreamingRuntime.plane.getOrElse(fail("no control plane"))

  private def rateTo(name: String, checkpoint: String)(
      sink: (DataFrame, Long) => Unit
  ): SparkSession => StreamingQuery =
    s =>
      s.readStream
        .format("rate")
        .option("rowsPerSecond", "20")
        .load()
        .writeStream
        .queryName(name)
        .option("checkpointLocation", checkpoint)
        .foreachBatch(sink)
        .start()

  test("a restart policy's delays grow by its factor up to its cap") {
    val p = RestartPolicy(initialDelayMs = 500, factor = 3, maxDelayMs = 10000, maxRestarts = 5, windowMs = 60000)
    assert((1 to 5).map(p.delayMs) == Seq(500L, 1500L, 4500L, 10000L, 10000L))
    assert(RestartPolicy(0, 2, 0, 1, 1).delayMs(3) == 0L)
    intercept[IllegalArgumentException](RestartPolicy(1, 0, 1, 1, 1))
  }

  test("pause, resume and restart from Scala write every row once") {
    spark // started before the plugin's plane is read
    val checkpoint = Files.createTempDirectory("managed").toString
    val start = rateTo("scala-managed", checkpoint) { (df: DataFrame, id: Long) =>
      ManagedSink.batches.add(id)
      Thread.sleep(300)
      df.select("value").collect().foreach(r => ManagedSink.values.add(r.getLong(0)))
    }
    val m = ManagedQuery.manage(spark, "scala-managed")(start)
    assert(m.state == ManagedState.Running && m.current.isDefined)
    eventually(assert(ManagedSink.batches.size >= 2))

    assert(m.pause().isInstanceOf[ManagedOutcome.Accepted])
    val paused = m.awaitState(60000)(_.state == ManagedState.Paused)
    assert(paused.state == ManagedState.Paused && m.current.isEmpty)
    // Without a conf file the pause is kept in memory, as the dynamic configuration is.
    assert(plane.dynamicConf.get(ManagedQueries.pauseKey("scala-managed")).isDefined)
    val seen = ManagedSink.batches.size
    Thread.sleep(1000)
    assert(ManagedSink.batches.size == seen)

    m.resume()
    assert(m.awaitState(60000)(v => v.state == ManagedState.Running && v.runs == 2).runs == 2)
    assert(plane.dynamicConf.get(ManagedQueries.pauseKey("scala-managed")).isEmpty)
    eventually(assert(ManagedSink.batches.size > seen))
    m.restart()
    assert(m.awaitState(60000)(v => v.state == ManagedState.Running && v.runs == 3).restarts == 2)
    val n = ManagedSink.batches.size
    eventually(assert(ManagedSink.batches.size > n))

    m.stop()
    assert(m.awaitTermination(60000))
    assert(m.state == ManagedState.Stopped)
    val values = ManagedSink.values.asScala.toSeq.sorted
    assert(values.distinct.size == values.size, "a row was written twice")
    assert(values == (values.head to values.last).toSeq, "a row was lost")
    val ids = ManagedSink.batches.asScala.toSeq
    assert(ids == (ids.head to ids.last).toSeq, s"a batch ran twice or was skipped: $ids")
  }

  test("failures are restarted with back-off, a failure at start counts, and the limit makes it FAILED") {
    val checkpoint = Files.createTempDirectory("managed-failing").toString
    val starts = new ConcurrentLinkedQueue[Long]()
    val attempt = new AtomicInteger()
    val failing = rateTo("scala-failing", checkpoint) { (_: DataFrame, _: Long) =>
      throw new IllegalStateException("downstream refused the batch")
    }
    val policy = RestartPolicy(initialDelayMs = 300, factor = 2, maxDelayMs = 5000, maxRestarts = 2, windowMs = 60000)
    val m = ManagedQuery.manage(spark, "scala-failing", Some(policy)) { s =>
      starts.add(System.nanoTime())
      // The second attempt fails before a query exists: the recipe itself throws, and not even an Exception (a
      // connector jar missing on the driver).
      if (attempt.incrementAndGet() == 2)
        throw new NoClassDefFoundError("org/apache/spark/sql/kafka010/KafkaSourceProvider")
      failing(s)
    }
    val e = intercept[ManagedQueryFailedException](m.awaitTermination())
    assert(e.view.state == ManagedState.Failed && e.view.failures == 3, e.view)
    assert(e.getMessage.contains("downstream refused the batch"), e.getMessage)
    val t = starts.asScala.toSeq.map(_ / 1000000L)
    assert(t.size == 3, s"${t.size} starts")
    // The start that threw failed at once, so its gap is its back-off alone: 600 ms after the second failure.
    assert(t(1) - t(0) >= 300 && t(2) - t(1) >= 600, t)
    val audit =
      plane.audit.since(0).filter(r => r.kind == AuditRecord.Lifecycle && r.queryName.contains("scala-failing"))
    assert(
      audit.map(_.options("state")) == Seq(
        "RUNNING",
        "BACKOFF",
        "RESTARTING",
        "BACKOFF",
        "RESTARTING",
        "RUNNING",
        "FAILED"
      )
    )
    assert(audit.exists(_.options.get("detail").exists(_.contains("KafkaSourceProvider"))))
  }

  test("one start at a time: verbs during a start are kept as intents, and a stop on purpose is never undone") {
    val gate = new java.util.concurrent.atomic.AtomicReference(new java.util.concurrent.CountDownLatch(0))
    val inRecipe = new AtomicInteger()
    val most = new AtomicInteger()
    val calls = new AtomicInteger()
    val m = ManagedQuery.manage(spark, "scala-gated") { s =>
      calls.incrementAndGet()
      most.accumulateAndGet(inRecipe.incrementAndGet(), math.max)
      try {
        gate.get.await()
        s.readStream.format("rate").load().writeStream.format("noop").queryName("scala-gated").start()
      } finally inRecipe.decrementAndGet()
    }
    def holdNextStart(): java.util.concurrent.CountDownLatch = {
      val g = new java.util.concurrent.CountDownLatch(1); gate.set(g); g
    }
    assert(m.pause().isInstanceOf[ManagedOutcome.Accepted])
    m.awaitState(60000)(_.state == ManagedState.Paused)

    // A resume whose start is held: every further ask while it runs starts nothing more.
    var g = holdNextStart()
    m.resume()
    eventually(assert(inRecipe.get == 1))
    (1 to 3).foreach { _ => m.resume(); m.restart() }
    // A pause asked while the recipe runs pauses the run it starts, as it begins.
    assert(m.pause().isInstanceOf[ManagedOutcome.Accepted] && m.state == ManagedState.Pausing)
    g.countDown()
    val paused = m.awaitState(60000)(_.state == ManagedState.Paused)
    assert(paused.runs == 2 && m.current.isEmpty, paused)
    Thread.sleep(500) // a start asked twice would have begun by now
    assert(calls.get == 2 && most.get == 1, s"${calls.get} recipe calls, ${most.get} at once")

    // A restart of a query whose pause waits for its condition restarts it (the pause becomes the restart).
    gate.set(new java.util.concurrent.CountDownLatch(0))
    m.resume()
    m.awaitState(60000)(v => v.state == ManagedState.Running && v.runs == 3)
    m.pause(StopCondition.AfterBatch(1000000))
    assert(m.state == ManagedState.Pausing)
    m.restart()
    val restarted = m.awaitState(60000)(v => v.state == ManagedState.Running && v.runs == 4)
    assert(restarted.runs == 4 && plane.dynamicConf.get(ManagedQueries.pauseKey("scala-gated")).isEmpty, restarted)

    // A stop on purpose that waits for its condition: pause, resume and restart are refused, and nothing is undone.
    val id = m.current.get.id.toString
    val pending = plane.requestStop(id, StopRequest(when = StopCondition.AfterBatch(1000000)), StopSource.Rest)
    assert(pending.isInstanceOf[StopOutcome.Pending], pending)
    for (verb <- Seq[() => ManagedOutcome](() => m.pause(), () => m.restart(), () => m.resume()))
      assert(verb().isInstanceOf[ManagedOutcome.Conflict])
    assert(plane.registry.runningEntry(m.current.get.id).exists(_.pending.get.purpose == StopPurpose.End))
    plane.cancelStop(id, StopSource.Rest)

    // A conditional pause asked while the recipe runs keeps its condition: the run begins PAUSING, its pause pending.
    m.pause()
    m.awaitState(60000)(_.state == ManagedState.Paused)
    g = holdNextStart()
    m.resume()
    eventually(assert(inRecipe.get == 1))
    m.pause(StopCondition.AfterBatch(1000000))
    g.countDown()
    eventually {
      val run = m.current.flatMap(q => plane.registry.runningEntry(q.id))
      assert(run.exists(t => Option(t.pending.get).exists(_.purpose == StopPurpose.Pause)), run)
    }
    assert(m.state == ManagedState.Pausing)
    m.resume() // takes the pending pause back
    assert(m.awaitState(60000)(_.state == ManagedState.Running).runs == 5)

    // A stop asked while the recipe runs: the run it starts ends as it begins, STOPPED for good.
    m.pause()
    m.awaitState(60000)(_.state == ManagedState.Paused)
    g = holdNextStart()
    m.resume()
    eventually(assert(inRecipe.get == 1))
    m.stop()
    g.countDown()
    assert(m.awaitTermination(60000) && m.state == ManagedState.Stopped)
    assert(calls.get == 6 && most.get == 1 && spark.streams.active.forall(_.name != "scala-gated"))
  }

  test("a query stopped by its application is not restarted, and nothing starts while the driver shuts down") {
    val idle: SparkSession => StreamingQuery =
      s => s.readStream.format("rate").load().writeStream.format("noop").queryName("scala-idle").start()
    val m = ManagedQuery.manage(spark, "scala-idle")(idle)
    m.current.foreach(_.stop())
    assert(m.awaitTermination(30000))
    assert(m.view.runs == 1 && m.view.failures == 0)
    intercept[ManagedQueryException](ManagedQuery.manage(spark, "no spaces allowed")(idle))

    val checkpoint = Files.createTempDirectory("managed-shutdown").toString
    val failing = rateTo("scala-shutdown", checkpoint) { (_: DataFrame, _: Long) =>
      throw new IllegalStateException("x")
    }
    val policy =
      RestartPolicy(initialDelayMs = 60000, factor = 1, maxDelayMs = 60000, maxRestarts = 5, windowMs = 60000)
    val f = ManagedQuery.manage(spark, "scala-shutdown", Some(policy))(failing)
    assert(f.awaitState(60000)(_.state == ManagedState.Backoff).state == ManagedState.Backoff)
    plane.managed.shuttingDown()
    assert(f.awaitTermination(1000))
    assert(f.view.state == ManagedState.Stopped && f.view.runs == 1)
  }
}
