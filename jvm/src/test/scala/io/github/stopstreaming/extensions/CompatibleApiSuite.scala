package io.github.stopstreaming.extensions

import java.net.{ConnectException, ServerSocket, URI}
import java.net.http.{HttpClient, HttpRequest, HttpResponse}
import java.nio.file.{Files, Path}

import scala.concurrent.{Await, ExecutionContext, Future}
import scala.concurrent.duration._

import io.github.stopstreaming.core.{Lookup, Settings, StopRequest, StopSource}
import io.github.stopstreaming.extensions.StreamingQueryOps._
import io.github.stopstreaming.runtime.{EarlyBind, StopStreamingRuntime}
import io.github.stopstreaming.extensions.conf._
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.{StreamingQuery, StreamingQueryException}
import org.scalatest.BeforeAndAfterAll
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** The seed library's public API, as its users call it, on real Spark without the plugin. */
class CompatibleApiSuite extends AnyFunSuite with Eventually with BeforeAndAfterAll {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(30, Seconds), Span(0.05, Seconds))
  implicit private val ec: ExecutionContext =
    ExecutionContext.fromExecutor(java.util.concurrent.Executors.newCachedThreadPool())

  private lazy val spark = SparkSession
    .builder()
    .master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.stopstreaming.rest.port", "0")
    .getOrCreate()

  override def afterAll(): Unit = spark.stop()

  private val http = HttpClient.newHttpClient()

  private def post(port: Int, path: String): HttpResponse[String] =
    http.send(
      HttpRequest
        .newBuilder(URI.create(s"http://127.0.0.1:$port$path"))
        .POST(HttpRequest.BodyPublishers.noBody())
        .build(),
      HttpResponse.BodyHandlers.ofString()
    )

  private def freePort(): Int = {
    val s = new ServerSocket(0);
    try s.getLocalPort
    finally s.close()
  }

  private def rt: StopStreamingRuntime = StopStreamingRuntime.current.get

  private def start(): StreamingQuery = spark.readStream.format("rate").load().writeStream.format("noop").start()

  private def portIsClosed(port: Int): Boolean =
    try { new java.net.Socket("127.0.0.1", port).close(); false }
    catch { case _: ConnectException => true }

  test("RestStopConfig defaults are those of the 0.x API") {
    assert(RestStopConfig() == RestStopConfig("0.0.0.0", 8558, "/stop"))
    assert(FileSystemStopConfig("/x").fsType == FsType.LocalFileSystem)
    assert(FileSystemStopConfig("/x", FsType.DBFS).resolvedStopDir == "dbfs:/x")
    assert(FileSystemStopConfig("s3a://b/x", FsType.DBFS).resolvedStopDir == "s3a://b/x")
  }

  test("two queries share a port of their own; the server closes with the last of them") {
    val port = freePort()
    val (a, b) = (start(), start())
    val waitA = Future(a.awaitExternalTermination(RestStopConfig(port = port)))
    val waitB = Future(b.awaitExternalTermination(RestStopConfig(port = port)))
    eventually(assert(post(port, s"/stop/${a.id}").statusCode == 200))
    Await.result(waitA, 30.seconds)
    assert(!a.isActive && b.isActive)
    assert(post(port, s"/stop/${b.id}xyz").statusCode == 404, "paths match exactly")
    assert(post(port, s"/stop/${b.id}").statusCode == 200)
    Await.result(waitB, 30.seconds)
    eventually(assert(portIsClosed(port)))
  }

  test("FileSystemStopConfig: deleting the marker ends awaitExternalTermination") {
    val dir: Path = Files.createTempDirectory("seed-stop")
    val q = start()
    val waiting = Future(q.awaitExternalTermination(FileSystemStopConfig(dir.toString, FsType.LocalFileSystem)))
    val marker = dir.resolve(q.id.toString)
    eventually(assert(Files.exists(marker)))
    Files.delete(marker)
    Await.result(waiting, 30.seconds)
    assert(!q.isActive)
  }

  test("awaitExternalTermination rethrows the query's failure") {
    val q = spark.readStream
      .format("rate")
      .load()
      .writeStream
      .foreachBatch((_: DataFrame, _: Long) => throw new IllegalStateException("sink broke"))
      .start()
    val e = intercept[StreamingQueryException](q.awaitExternalTermination(RestStopConfig(port = 0)))
    assert(e.getMessage.contains("sink broke"))
  }

  test("StopConfigLoader reads the HOCON block of the 0.x API") {
    def file(text: String): String = {
      val f = Files.createTempFile("stop", ".conf"); Files.write(f, text.getBytes("UTF-8")); f.toString
    }
    assert(
      StopConfigLoader.load(
        file("""stopstreaming { backend = "rest", rest { host = "127.0.0.1", port = 9000, stop-path = "/halt" } }""")
      ) ==
        RestStopConfig("127.0.0.1", 9000, "/halt")
    )
    assert(StopConfigLoader.load(file("""stopstreaming { backend = rest }""")) == RestStopConfig())
    assert(
      StopConfigLoader.load(
        file("""stopstreaming { backend = "filesystem", filesystem { stop-dir = "/mnt/s", fs-type = "DBFS" } }""")
      ) ==
        FileSystemStopConfig("/mnt/s", FsType.DBFS)
    )
    assert(StopConfigLoader.load() == FileSystemStopConfig("/tmp/stopstreaming-from-application-conf"))
  }

  test("StopConfigLoader.load(name) reads a class path resource first, then a file, then a Hadoop URI") {
    assert(StopConfigLoader.load("custom-stop.conf") == RestStopConfig(port = 9311, stopPath = "/halt"))
    val f = java.nio.file.Files.createTempFile("stop", ".conf")
    java.nio.file.Files.write(f, "stopstreaming { backend = rest, rest.port = 9312 }".getBytes("UTF-8"))
    assert(StopConfigLoader.load(f.toString) == RestStopConfig(port = 9312))
    assert(StopConfigLoader.load(f.toUri.toString) == RestStopConfig(port = 9312), "a file: URI through Hadoop")
    val kafka = java.nio.file.Files.createTempFile("stop", ".conf")
    java.nio.file.Files.write(kafka, "stopstreaming { backend = kafka }".getBytes("UTF-8"))
    val unknown = intercept[IllegalArgumentException](StopConfigLoader.load(kafka.toString))
    assert(unknown.getMessage.contains("kafka"), "an unknown backend is an IllegalArgumentException, as in 0.x")
  }

  test("a bad HOCON file is an error that names the key") {
    def file(text: String): String = {
      val f = Files.createTempFile("stop", ".conf"); Files.write(f, text.getBytes("UTF-8")); f.toString
    }
    val cases = Seq(
      """stopstreaming { backend = "rest", rest { port = "eighty" } }""" -> "stopstreaming.rest.port",
      """stopstreaming { backend = "rest", rest { port = 70000 } }""" -> "stopstreaming.rest.port",
      """stopstreaming { backend = "rest", rest { stop-path = "stop" } }""" -> "stopstreaming.rest.stop-path",
      """stopstreaming { backend = "kafka" }""" -> "stopstreaming.backend",
      """stopstreaming { rest { port = 1 } }""" -> "stopstreaming.backend",
      """stopstreaming { backend = "filesystem" }""" -> "stopstreaming.filesystem.stop-dir",
      """stopstreaming { backend = "filesystem", filesystem { stop-dir = "/x", fs-type = "S3" } }""" -> "stopstreaming.filesystem.fs-type",
      """other { }""" -> "stopstreaming"
    )
    cases.foreach { case (text, key) =>
      val e = intercept[StopConfigException](StopConfigLoader.load(file(text)))
      assert(e.key == key && e.getMessage.startsWith(key), e.getMessage)
    }
    val syntax = intercept[StopConfigException](StopConfigLoader.load(file("stopstreaming { backend = ")))
    assert(syntax.getMessage.nonEmpty)
    intercept[StopConfigException](StopConfigLoader.load("/no/such/file.conf"))
  }

  test("waits in Futures of the global ExecutionContext, more than its threads, leave it to other Futures") {
    // The 0.x API's own tests call awaitExternalTermination inside Future {...} on the global pool, which has as many
    // threads as cores: each wait must mark itself blocking, or two of them starve every other Future for good.
    val global = ExecutionContext.global
    val n = Runtime.getRuntime.availableProcessors + 2
    val queries = (1 to n).map(_ => start())
    val port = freePort()
    val waits = queries.zipWithIndex.map { case (q, i) =>
      Future(
        if (i == 0) q.awaitExternalTermination(RestStopConfig(port = port)) else q.awaitExternalTermination()
      )(global)
    }
    try {
      eventually(assert(queries.forall(q => rt.plane.registry.lookup(q.id.toString).isInstanceOf[Lookup.Running])))
      Thread.sleep(300) // every wait is inside awaitTermination by now
      assert(Await.result(Future(42)(global), 20.seconds) == 42, "another Future must run beside the waits")
      // And the 0.x way of stopping still works on the port of the first one.
      assert(post(port, s"/stop/${queries.head.id}").statusCode == 200)
      Await.result(waits.head, 30.seconds)
    } finally {
      queries.foreach(q => rt.plane.requestStop(q.id.toString, StopRequest.Default, StopSource.Api))
      waits.foreach(w => Await.ready(w, 60.seconds))
    }
    assert(queries.forall(!_.isActive))
  }

  test("a port named by RestStopConfig is bound before the control plane starts, and then served") {
    val port = freePort()
    val reserved =
      EarlyBind.reserve(new org.apache.spark.SparkConf(false), "127.0.0.1", port, RestStopConfig.DefaultHost)
    // A control plane runs already in this JVM: nothing to reserve, the port is served at once by the normal path.
    assert(reserved.isEmpty == StopStreamingRuntime.current.isDefined)
    reserved.foreach(EarlyBind.release)
    StopStreamingRuntime.current.foreach(StopStreamingRuntime.shutdown)
    // The early bind reads its keys by name from Settings: a key store set there leaves the bind to the normal path.
    val withTls = new org.apache.spark.SparkConf(false).set(Settings.SslKeyStore.fullKey, "/x")
    assert(EarlyBind.reserve(withTls, "127.0.0.1", freePort(), RestStopConfig.DefaultHost).isEmpty)
    // A reservation that no server takes over is closed for real: the port is free again, nobody left waiting on it.
    val spare = freePort()
    assert(EarlyBind.reserve(new org.apache.spark.SparkConf(false), "127.0.0.1", spare, "").contains(spare))
    EarlyBind.release(spare)
    intercept[ConnectException](new java.net.Socket("127.0.0.1", spare))
    new ServerSocket(spare).close()
    val got = EarlyBind.reserve(new org.apache.spark.SparkConf(false), "0.0.0.0", port, RestStopConfig.DefaultHost)
    assert(got.contains(port))
    // Bound (on loopback: no token), not yet started: a client connects and waits in the backlog.
    val early = new java.net.Socket("127.0.0.1", port)
    early.close()
    val q = start()
    val waiting = Future(q.awaitExternalTermination(RestStopConfig(port = port)))
    eventually(assert(post(port, s"/stop/${q.id}").statusCode == 200))
    Await.result(waiting, 30.seconds)
    got.foreach(EarlyBind.release) // already taken over: a no-op
  }
}
