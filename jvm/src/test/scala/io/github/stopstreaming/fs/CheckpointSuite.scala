package io.github.stopstreaming.fs

import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Path => JPath}
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.hadoop.conf.Configuration
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.StreamingQuery
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** What the batch sink of this suite's queries is doing, across its runs. */
object CheckpointSuiteSink {
  val begun = new AtomicLong(-1)
  val ended = new AtomicLong(-1)
  @volatile var sleepMs = 0L
}

/** The checkpoint reader and the last-run record on checkpoints that real Spark wrote, stopped through the plugin's
  * control plane; and the reader's answers to folders made by hand.
  */
class CheckpointSuite extends AnyFunSuite with Eventually with BeforeAndAfterAll {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(60, Seconds), Span(0.02, Seconds))
  import CheckpointSuiteSink._

  private lazy val spark: SparkSession = SparkSession
    .builder()
    .master("local[2]")
    .appName("stopstreaming-checkpoint")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
    .config("spark.stopstreaming.rest.enabled", "false")
    .getOrCreate()

  override def afterAll(): Unit = spark.stop()

  private def plane: ControlPlane = StopStreamingRuntime.plane.getOrElse(fail("no control plane"))
  private val reader = new CheckpointReader(new Configuration())

  private val sink: (DataFrame, Long) => Unit = (df, id) => {
    begun.set(id)
    Thread.sleep(sleepMs)
    df.count()
    ended.set(id)
  }

  private def start(df: DataFrame, checkpoint: JPath, sleep: Long): StreamingQuery = {
    sleepMs = sleep
    begun.set(-1)
    ended.set(-1)
    df.writeStream
      .option("checkpointLocation", checkpoint.toString)
      .trigger(org.apache.spark.sql.streaming.Trigger.ProcessingTime(200))
      .foreachBatch(sink)
      .start()
  }

  private def rate: DataFrame = spark.readStream.format("rate").option("rowsPerSecond", "20").load()

  private def stop(q: StreamingQuery, req: StopRequest): StopState = {
    val outcome = plane.requestStop(q.id.toString, req, StopSource.Api)
    val t = outcome match {
      case StopOutcome.Accepted(t, _) => t
      case StopOutcome.Pending(t, _) => t
      case other => fail(s"not accepted: $other")
    }
    val s = t.stopDone.get(60, java.util.concurrent.TimeUnit.SECONDS)
    assert(!t.isRunning)
    s
  }

  private def record(checkpoint: JPath): Either[String, LastRunRecord] =
    Json.readLastRun(new String(Files.readAllBytes(checkpoint.resolve("_stopstreaming/last-run.json")), UTF_8))

  test("a graceful stop in mid-batch: a clean checkpoint, and a record that says graceful, there when the stop ends") {
    val dir = Files.createTempDirectory("ckpt-graceful")
    val q = start(rate, dir, sleep = 800)
    eventually(assert(ended.get >= 1 && begun.get > ended.get, "a batch in flight"))
    val s = stop(q, StopRequest(mode = Some(StopMode.Graceful)))
    assert(s.phase == StopPhase.Stopped)

    val r = record(dir).fold(m => fail(m), identity)
    assert(r.endedBy == RunEnding.Graceful && r.queryId == q.id.toString && r.runId == q.runId.toString, r)
    assert(r.source == "api" && r.lastCommittedBatch == Some(ended.get), r)

    val report = reader.read(dir.toUri.toString)
    assert(report.clean && report.state == "clean" && report.queryId == Some(q.id.toString), report)
    assert(report.lastPlannedBatch == Some(ended.get) && report.lastCommittedBatch == Some(ended.get))
    assert(report.nextBatch == ended.get + 1 && report.restartReruns.isEmpty)
    assert(report.sources.map(s => (s.index, s.json)) == Seq((0, true)), report.sources)
    assert(report.lastRun.map(_.howItEnded) == Some("graceful"), report.lastRun)
    assert(report.warnings.isEmpty, report.warnings)
  }

  test("an immediate stop that cuts a batch: the record says immediate, the report says cut and names the re-run") {
    val dir = Files.createTempDirectory("ckpt-cut")
    val q = start(rate, dir, sleep = 3000)
    eventually(assert(ended.get >= 0 && begun.get > ended.get, "a batch in flight"))
    val cut = begun.get
    stop(q, StopRequest(mode = Some(StopMode.Immediate)))

    assert(record(dir).map(_.endedBy) == Right(RunEnding.Immediate))
    val report = reader.read(dir.toString)
    assert(!report.clean && report.state == "rerun", report)
    assert(report.lastPlannedBatch == Some(cut) && report.lastCommittedBatch == Some(cut - 1))
    val rerun = report.restartReruns.getOrElse(fail("no re-run"))
    assert(rerun.batch == cut && rerun.fromOffsets.isDefined && rerun.fromOffsets.get != rerun.toOffsets, rerun)
    assert(report.lastRun.map(_.howItEnded) == Some("cut"), report.lastRun)
  }

  test("a drain (when=caught-up) of a file source is recorded as drained") {
    val input = Files.createTempDirectory("ckpt-input")
    (1 to 3).foreach(i => Files.write(input.resolve(s"part-$i.txt"), s"row $i\n".getBytes(UTF_8)))
    val dir = Files.createTempDirectory("ckpt-drain")
    val q = start(spark.readStream.option("maxFilesPerTrigger", "1").text(input.toString), dir, sleep = 100)
    val s = stop(q, StopRequest(when = StopCondition.CaughtUp))
    assert(s.phase == StopPhase.Stopped && s.firedBy == StopCondition.CaughtUp, s)
    val report = reader.read(dir.toString)
    assert(report.clean && report.lastCommittedBatch == Some(2L), report)
    assert(report.lastRun.map(l => (l.record.endedBy, l.howItEnded)) == Some((RunEnding.Drained, "drained")))
  }

  test("a managed query's pause is recorded as paused") {
    val dir = Files.createTempDirectory("ckpt-pause")
    val m =
      io.github.stopstreaming.extensions.ManagedQuery.manage(spark, "ckpt-paused")(_ => start(rate, dir, sleep = 300))
    try {
      eventually(assert(ended.get >= 1))
      assert(m.pause().isInstanceOf[ManagedOutcome.Accepted])
      assert(m.awaitState(60000)(_.state == ManagedState.Paused).state == ManagedState.Paused)
      eventually(assert(record(dir).map(_.endedBy) == Right(RunEnding.Paused)))
      val report = reader.read(dir.toString)
      assert(report.clean && report.lastRun.map(_.howItEnded) == Some("paused"), report)
    } finally {
      m.stop()
      m.awaitTermination(60000)
    }
  }

  test("a temporary checkpoint Spark deleted as its query stopped is not made again to hold a record") {
    val q = rate.writeStream.format("noop").start()
    val t = plane.register(q)
    val root = new org.apache.hadoop.fs.Path(t.checkpointRoot.getOrElse(fail("no checkpoint root")))
    val fs = root.getFileSystem(new Configuration())
    eventually(assert(fs.exists(new org.apache.hadoop.fs.Path(root, "offsets/0"))))
    stop(q, StopRequest(mode = Some(StopMode.Graceful)))
    assert(!fs.exists(root), s"$root was made again after Spark deleted it")
  }

  test("the end of a run is not held up while the stopper holds the query (the record's wait)") {
    val q = start(rate, Files.createTempDirectory("ckpt-lock"), sleep = 0)
    val t = plane.register(q)
    val (held, release) = (new java.util.concurrent.CountDownLatch(1), new java.util.concurrent.CountDownLatch(1))
    val holder = new Thread(() => t.synchronized { held.countDown(); release.await(10, TimeUnit.SECONDS) })
    holder.start()
    try {
      held.await()
      java.util.concurrent.CompletableFuture.runAsync(() => t.onEnd(() => ())).get(2, TimeUnit.SECONDS)
    } finally { release.countDown(); q.stop() }
  }

  test("the async progress flush sees a new run of the query that started on its checkpoint") {
    val dir = Files.createTempDirectory("ckpt-rerun")
    val first = start(rate, dir, sleep = 0)
    eventually(assert(ended.get >= 0))
    first.stop()
    val second = start(rate, dir, sleep = 0)
    try {
      assert(second.id == first.id)
      assert(AsyncProgress.otherRun(first) == Some(second.runId))
      assert(AsyncProgress.otherRun(second).isEmpty)
    } finally second.stop()
  }

  // ---- folders made by hand: no Spark runs ----

  private val Entry = "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1,\"conf\":{}}\n{\"0\":5}"
  private val Commit = "v1\n{\"nextBatchWatermarkMs\":10}"

  private def folder(files: (String, String)*): JPath = {
    val root = Files.createTempDirectory("ckpt-hand")
    files.foreach { case (name, text) =>
      val p = root.resolve(name)
      Files.createDirectories(p.getParent)
      Files.write(p, text.getBytes(UTF_8))
    }
    root
  }

  private def lastRun(batch: String, endedBy: String = "graceful", id: String = "q-1"): String =
    s"""{"version":1,"queryId":"$id","runId":"r","endedBy":"$endedBy","source":"rest","mode":"graceful",""" +
      s""""when":"now","at":"2026-12-07T10:00:00Z","lastCommittedBatch":$batch}"""

  test("the record is judged against the checkpoint: its own word, unknown once a later run moved on, cut") {
    val base = Seq("metadata" -> """{"id":"q-1"}""", "offsets/4" -> Entry, "offsets/5" -> Entry)
    def judged(files: (String, String)*): (Option[String], Seq[String]) = {
      val r = reader.read(folder(base ++ files: _*).toString)
      (r.lastRun.map(_.howItEnded), r.warnings)
    }
    assert(
      judged("commits/5" -> Commit, "_stopstreaming/last-run.json" -> lastRun("5", "paused")) == ((Some("paused"), Nil))
    )
    assert(judged("commits/5" -> Commit, "_stopstreaming/last-run.json" -> lastRun("4"))._1 == Some("unknown"))
    assert(judged("commits/4" -> Commit, "_stopstreaming/last-run.json" -> lastRun("4"))._1 == Some("cut"))
    assert(judged("commits/5" -> Commit) == ((None, Nil)))
    val (other, warned) = judged("commits/5" -> Commit, "_stopstreaming/last-run.json" -> lastRun("5", id = "q-2"))
    assert(other == Some("unknown") && warned.exists(_.contains("q-2")), warned)
    val (ahead, why) = judged("commits/5" -> Commit, "_stopstreaming/last-run.json" -> lastRun("9"))
    assert(ahead == Some("unknown") && why.exists(_.contains("beyond")), why)
  }

  test("a malformed record is a warning, never an error") {
    for (bad <- Seq("not json", "[1]", lastRun("5", "vanished"), lastRun("\"five\""), lastRun("-1"))) {
      val r =
        reader.read(folder("offsets/0" -> Entry, "commits/0" -> Commit, "_stopstreaming/last-run.json" -> bad).toString)
      assert(r.clean && r.lastRun.isEmpty, bad)
      assert(r.warnings.exists(_.contains("last-run.json is not a record of ours")), (bad, r.warnings))
    }
  }

  test("folders Spark would refuse, or that are no checkpoint, are refused with the inspector's words") {
    def refused(files: (String, String)*): String =
      intercept[CheckpointException](reader.read(folder(files: _*).toString)).getMessage
    assert(refused("data/part-0.parquet" -> "PAR1").contains("not a streaming checkpoint"))
    assert(refused("offsets/5" -> Entry, "commits/5" -> Commit).contains("offsets/4 is missing"))
    assert(refused("offsets/0" -> "not a log").contains("version line of an entry of offsets/"))
    assert(refused("offsets/0" -> "v1\n[1, 2]\n-").contains("not a JSON object"))
    assert(refused("offsets/0" -> "v1\n{\"batchWatermarkMs\": \"soon\"}\n-").contains("not a time in milliseconds"))
    assert(refused("offsets" -> "a file", "metadata" -> "{}").contains("a file where Spark keeps a folder"))
    assert(refused("offsets/0" -> Entry, "commits/1" -> Commit).contains("ahead of offsets/0"))
    val gone = intercept[CheckpointException](reader.read(Files.createTempDirectory("x").resolve("nowhere").toString))
    assert(gone.getMessage.contains("does not exist") && !gone.io)
  }
}
