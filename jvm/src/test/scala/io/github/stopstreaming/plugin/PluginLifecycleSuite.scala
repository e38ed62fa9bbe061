package io.github.stopstreaming.plugin

import java.net.{InetSocketAddress, ServerSocket, URI}
import java.net.http.{HttpClient, HttpRequest, HttpResponse}
import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import io.github.stopstreaming.core.{NamedThreads, StopMode, StopOutcome, StopPhase, StopRequest, StopSource}
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.SparkConf
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.{StreamingQuery, StreamingQueryListener, Trigger}
import org.apache.spark.sql.streaming.StreamingQueryListener._
import org.scalatest.BeforeAndAfterEach
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** A user's own listener, named in the conf before the plugin appends its own. */
class UserListener(conf: SparkConf) extends StreamingQueryListener {
  override def onQueryStarted(event: QueryStartedEvent): Unit = UserListener.started.add(event.id.toString)
  override def onQueryProgress(event: QueryProgressEvent): Unit = ()
  override def onQueryTerminated(event: QueryTerminatedEvent): Unit = ()
}
object UserListener { val started = new ConcurrentLinkedQueue[String]() }

/** Records the begin and end of every batch, in order, across runs. */
object BatchLog {
  val events = new ConcurrentLinkedQueue[String]()
  def ids(kind: String): Seq[Long] = events.asScala.toSeq.filter(_.startsWith(kind)).map(_.split(":")(1).toLong)
}

class PluginLifecycleSuite extends AnyFunSuite with Eventually with BeforeAndAfterEach {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(30, Seconds), Span(0.05, Seconds))

  private val http = HttpClient.newHttpClient()

  private def session(plugin: Boolean, extra: (String, String)*): SparkSession = {
    val b = SparkSession
      .builder()
      .master("local[2]")
      .appName("stopstreaming-test")
      .config("spark.ui.enabled", "false")
      .config("spark.sql.shuffle.partitions", "2")
      .config("spark.stopstreaming.rest.port", "0")
    if (plugin) b.config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
    extra.foreach { case (k, v) => b.config(k, v) }
    b.getOrCreate()
  }

  override def afterEach(): Unit = {
    SparkSession.getActiveSession.foreach(_.stop())
    SparkSession.getDefaultSession.foreach(_.stop())
    SparkSession.clearActiveSession()
    SparkSession.clearDefaultSession()
  }

  private def get(port: Int, path: String): HttpResponse[String] =
    http.send(
      HttpRequest.newBuilder(URI.create(s"http://127.0.0.1:$port$path")).GET().build(),
      HttpResponse.BodyHandlers.ofString()
    )

  private def rate(spark: SparkSession): DataFrame =
    spark.readStream.format("rate").option("rowsPerSecond", "5").load()

  private def checkpoint(): String = Files.createTempDirectory("ckpt").toString

  test("the plugin starts the control plane, keeps the user's listeners, and frees its port on stop") {
    val spark = session(plugin = true, "spark.sql.streaming.streamingQueryListeners" -> classOf[UserListener].getName)
    val plane = StopStreamingRuntime.plane.getOrElse(fail("no control plane"))
    val port = StopStreamingRuntime.current.flatMap(_.restPort).getOrElse(fail("no port"))
    assert(get(port, "/api/v1/health").statusCode == 200)
    assert(spark.conf.get("spark.stopstreaming.rest.url") == s"http://127.0.0.1:$port")
    assert(
      spark.sparkContext.getConf.get("spark.sql.streaming.streamingQueryListeners") ==
        s"${classOf[UserListener].getName},${classOf[QueryEventsListener].getName}"
    )

    val q = rate(spark).writeStream.format("noop").queryName("lifecycle").start()
    eventually(assert(plane.registry.runningEntry(q.id).isDefined))
    assert(UserListener.started.contains(q.id.toString))
    q.stop()

    spark.stop()
    assert(StopStreamingRuntime.current.isEmpty)
    // The port is free again: we can bind it ourselves.
    val s = new ServerSocket()
    try s.bind(new InetSocketAddress("127.0.0.1", port))
    finally s.close()
    eventually(assert(NamedThreads.count() == 0, "every stopstreaming thread ended with the driver"))
  }

  test("a bad setting fails the driver start with a message that names the key") {
    val e = intercept[Exception](session(plugin = true, "spark.stopstreaming.rest.port" -> "eighty"))
    val messages = Iterator.iterate[Throwable](e)(_.getCause).takeWhile(_ != null).map(_.getMessage).mkString(" | ")
    assert(messages.contains("spark.stopstreaming.rest.port"), messages)
  }

  test("queries of the default session and of newSession() are registered as they start") {
    val spark = session(plugin = true)
    val plane = StopStreamingRuntime.plane.get
    val other = spark.newSession()
    val q1 = rate(spark).writeStream.format("noop").start()
    val q2 = rate(other).writeStream.format("noop").start()
    try {
      assert(plane.registry.runningEntry(q1.id).isDefined, "registered before start() returned")
      assert(plane.registry.runningEntry(q2.id).isDefined)
    } finally { q1.stop(); q2.stop() }
    eventually(assert(plane.registry.endedQueries.map(_.id).toSet == Set(q1.id, q2.id)))
  }

  test("a query that is ending is found by its name at every moment: running, then ended, never missing") {
    import io.github.stopstreaming.core.Lookup
    val spark = session(plugin = true)
    val plane = StopStreamingRuntime.plane.get
    val q = rate(spark).writeStream.queryName("ending").format("noop").start()
    val seen = new ConcurrentLinkedQueue[String]()
    // End hooks run while the query moves from the running map to the ended list: the window a lookup once fell in.
    plane.registry.runningEntry(q.id).get.onEnd(() => seen.add(plane.registry.lookup("ending").getClass.getSimpleName))
    q.stop()
    eventually(assert(!seen.isEmpty))
    assert(seen.asScala.toSeq == Seq("Ended"), "found as ended from within the move")
    assert(plane.registry.lookup("ending").isInstanceOf[Lookup.Ended])
    assert(plane.registry.views.count(_.id == q.id) == 1, "listed once")
  }

  test("without the plugin, the API starts the control plane lazily and registers that session's queries") {
    val spark = session(plugin = false)
    assert(StopStreamingRuntime.current.isEmpty)
    val plane = SessionAttach.runtimeFor(spark).plane
    val q = rate(spark).writeStream.format("noop").start()
    try eventually(assert(plane.registry.runningEntry(q.id).isDefined))
    finally q.stop()
    spark.stop()
    eventually(assert(StopStreamingRuntime.current.isEmpty))
  }

  test("a graceful stop in mid-batch lets the batch commit; the restart re-runs no batch") {
    val spark = session(plugin = true)
    val plane = StopStreamingRuntime.plane.get
    val ckpt = checkpoint()
    BatchLog.events.clear()
    def start(): StreamingQuery = rate(spark).writeStream
      .option("checkpointLocation", ckpt)
      .foreachBatch { (df: DataFrame, id: Long) =>
        BatchLog.events.add(s"begin:$id")
        df.count()
        Thread.sleep(1500)
        BatchLog.events.add(s"end:$id")
        ()
      }
      .start()

    val q = start()
    eventually(assert(BatchLog.ids("begin").size >= 2 && BatchLog.ids("begin").size > BatchLog.ids("end").size))
    val outcome = plane.requestStop(q.id.toString, StopRequest(Some(StopMode.Graceful)), StopSource.Api)
    assert(outcome.isInstanceOf[StopOutcome.Accepted])
    q.awaitTermination()
    val t = outcome.asInstanceOf[StopOutcome.Accepted].query
    eventually(assert(t.stop.map(_.phase).contains(StopPhase.Stopped)))
    assert(q.exception.isEmpty)
    val begun = BatchLog.ids("begin")
    assert(begun == BatchLog.ids("end"), "the batch in flight finished")

    val q2 = start()
    eventually(assert(BatchLog.ids("begin").size > begun.size))
    q2.stop()
    val rerun = BatchLog.ids("begin").drop(begun.size)
    assert(rerun.head == begun.max + 1, s"first run $begun, restart $rerun")
  }

  test("with stop.mode=immediate, a conditional request that comes while a graceful stop drains does not cut it") {
    val spark = session(plugin = true, "spark.stopstreaming.stop.mode" -> "immediate")
    val plane = StopStreamingRuntime.plane.get
    BatchLog.events.clear()
    val q = rate(spark).writeStream
      .option("checkpointLocation", checkpoint())
      .foreachBatch { (df: DataFrame, id: Long) =>
        BatchLog.events.add(s"begin:$id")
        df.count()
        Thread.sleep(2000)
        BatchLog.events.add(s"end:$id")
        ()
      }
      .start()
    eventually(assert(BatchLog.ids("begin").size >= 2 && BatchLog.ids("begin").size > BatchLog.ids("end").size))
    val graceful = plane.requestStop(q.id.toString, StopRequest(Some(StopMode.Graceful)), StopSource.Api)
    val t = graceful.asInstanceOf[StopOutcome.Accepted].query
    assert(t.stop.exists(s => !s.phase.done), "draining")
    // The drain's operator, unaware of it, asks for a drain of their own (when= makes a graceful stop).
    val caughtUp = io.github.stopstreaming.core.StopCondition.CaughtUp
    plane.requestStop(q.id.toString, StopRequest(None, None, caughtUp), StopSource.Rest)
    q.awaitTermination()
    eventually(assert(t.stop.exists(_.phase.done)))
    assert(t.stop.map(_.phase).contains(StopPhase.Stopped), s"the drain was escalated: ${t.stop}")
    assert(BatchLog.ids("begin") == BatchLog.ids("end"), "the batch in flight finished")
  }

  test("an idle query with a long trigger stops at once") {
    val spark = session(plugin = true)
    val plane = StopStreamingRuntime.plane.get
    val q = rate(spark).writeStream.format("noop").trigger(Trigger.ProcessingTime("10 minutes")).start()
    eventually(assert(q.lastProgress != null && !q.status.isTriggerActive))
    val t0 = System.nanoTime()
    plane.requestStop(q.id.toString, StopRequest.Default, StopSource.Api)
    q.awaitTermination()
    val ms = (System.nanoTime() - t0) / 1e6
    assert(ms < 5000, s"took $ms ms")
  }

  test("the listing is one body while nothing moves, and a new one as soon as a batch, a status or a stop does") {
    import io.github.stopstreaming.core.{StopCondition, CancelOutcome}
    import io.github.stopstreaming.rest.QueryJsonCache
    val spark = session(plugin = true)
    val plane = StopStreamingRuntime.plane.get
    val json = new QueryJsonCache
    def body(): String = new String(json.list(plane.registry.views), "UTF-8")
    val idle = rate(spark).writeStream.queryName("idle").format("noop").trigger(Trigger.ProcessingTime("10 minutes"))
    val q = idle.start()
    // Spark lowers isTriggerActive a moment before it sets the waiting message (a new status object): the listing is
    // the same body from then on, until the next trigger ten minutes away.
    eventually {
      val first = json.list(plane.registry.views)
      assert(json.list(plane.registry.views) eq first, "an idle listing is served again, not rebuilt")
      assert(plane.registry.views.head eq plane.registry.views.head, "an idle query's view is kept")
    }

    val pending = StopRequest(None, None, StopCondition.parse("in:1h").toOption.get)
    plane.requestStop("idle", pending, StopSource.Api)
    assert(body().contains("\"PENDING\""), "a pending stop shows at once")
    assert(plane.cancelStop("idle", StopSource.Api).isInstanceOf[CancelOutcome.Cancelled])
    assert(!body().contains("\"PENDING\""), "a cancelled stop leaves the listing at once")

    val busy =
      rate(spark).writeStream
        .queryName("busy")
        .format("noop")
        .trigger(Trigger.ProcessingTime("100 milliseconds"))
        .start()
    eventually(assert(busy.lastProgress != null && busy.lastProgress.batchId >= 2))
    eventually(assert(body().contains(s""""batchId":${busy.lastProgress.batchId}""")))
    busy.stop()
    plane.requestStop("idle", StopRequest.Default, StopSource.Api)
    q.awaitTermination()
    eventually(assert(plane.registry.views.forall(!_.active) && body().contains("\"STOPPED\"")))
    val ended = json.list(plane.registry.views)
    assert(json.list(plane.registry.views) eq ended, "ended queries are served from one body too")
  }

  test("the Scala twin: query.requestStop(when = ...) returns at once, PENDING; cancelStop takes it back") {
    import io.github.stopstreaming.core.StopCondition
    import io.github.stopstreaming.extensions.StreamingQueryOps._
    val spark = session(plugin = true)
    BatchLog.events.clear()
    val q = rate(spark).writeStream
      .foreachBatch { (df: DataFrame, id: Long) =>
        BatchLog.events.add(s"begin:$id")
        df.count()
        Thread.sleep(300)
        BatchLog.events.add(s"end:$id")
        ()
      }
      .start()
    val later = q.requestStop(when = StopCondition.parse("in:1h").toOption.get)
    assert(later.phase == StopPhase.Pending)
    assert(q.cancelStop())
    assert(!q.cancelStop(), "nothing is pending any more")
    val pending = q.requestStop(when = StopCondition.AfterBatch(2))
    assert(pending.phase == StopPhase.Pending && q.isActive)
    q.awaitTermination()
    assert(q.exception.isEmpty)
    assert(BatchLog.ids("end").max == 2 && BatchLog.ids("begin").max == 2, BatchLog.events.asScala.mkString(" "))
  }
}
