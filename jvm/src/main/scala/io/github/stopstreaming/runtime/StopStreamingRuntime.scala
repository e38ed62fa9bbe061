package io.github.stopstreaming.runtime

import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

import io.github.stopstreaming.core._
import io.github.stopstreaming.fs.{CheckpointReader, ConfFile, LastRunRecorder, MarkerWatcher}
import io.github.stopstreaming.observe.{AuditSinks, QueryMetrics, StopStreamingMetrics}
import io.github.stopstreaming.rest.{ControlServers, Tls}
import io.github.stopstreaming.shutdown.ShutdownDrain
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.SparkContext
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** The control plane of this driver with its adapters wired to it: the HTTP servers, the stop-directory watcher and the
  * shutdown drain. This is the one place that knows both the core and the adapters; the core knows none of them.
  */
final class StopStreamingRuntime private (
    val plane: ControlPlane,
    hadoopConf: Configuration,
    sparkContext: Option[SparkContext]
) {
  private val log = LoggerFactory.getLogger(getClass)
  private val settings = plane.settings

  private val checkpointReader = new CheckpointReader(hadoopConf)
  val servers =
    new ControlServers(
      plane,
      settings.tls.filter(_ => settings.restEnabled).map(Tls.context),
      root => checkpointReader.read(root)
    )

  /** Leaves a record of how each run we stop ended beside its checkpoint. */
  private val lastRuns = new LastRunRecorder(hadoopConf, plane.threads)
  plane.addListener(lastRuns)
  val markers = new MarkerWatcher(plane, hadoopConf, settings.fsPollIntervalMs, () => restUrl)
  plane.addListener(markers)

  plane.audit.addSink(AuditSinks.driverLog)
  sparkContext.foreach(sc => plane.audit.addSink(AuditSinks.listenerBus(sc)))
  if (settings.metricsPerQuery) plane.addListener(new QueryMetrics(plane))

  /** The plugin's metrics; the plugin registers them with Spark's metrics system. */
  val metrics: StopStreamingMetrics = {
    val h = servers.stats
    val http = h.byClass.toSeq.sortBy(_._1).map { case (c, n) => s"http.requests.${c}xx" -> (() => n.sum) } ++ Seq(
      "http.refused.auth" -> (() => h.refusedAuth.sum),
      "http.refused.origin" -> (() => h.refusedOrigin.sum),
      "http.refused.host" -> (() => h.refusedHost.sum)
    )
    val m = new StopStreamingMetrics(plane, http)
    plane.addListener(m)
    m
  }

  private val shutdownDrain =
    if (settings.shutdownGraceful) Some(new ShutdownDrain(plane, settings.shutdownTimeoutMs)) else None

  @volatile private var mainServerPort: Option[Int] = None

  private def start(): Unit = {
    shutdownDrain.foreach(_.install())
    if (settings.restEnabled) startServer()
    settings.fsStopDir.foreach { dir =>
      try markers.watchAll(dir)
      catch {
        case e: IllegalArgumentException => throw new InvalidSettingException(Settings.FsStopDir.fullKey, e.getMessage)
      }
    }
    log.info(s"stopstreaming control plane started: $settings")
  }

  // A port already taken must not take the driver down: the plane runs on without HTTP.
  private def startServer(): Unit =
    try {
      val port = servers.acquire(settings.bindHost, settings.restPort, settings.stopPath)
      mainServerPort = Some(port)
      if (settings.token.isEmpty && !Hosts.isLoopback(settings.bindHost)) {
        log.warn(
          s"stopstreaming control server listens on ${settings.bindHost}:$port without a token: " +
            "anyone who can reach this port can stop queries. Set spark.stopstreaming.auth.token " +
            "(or auth.tokenFile, or STOPSTREAMING_TOKEN)."
        )
      } else if (settings.token.isEmpty) {
        log.info(
          s"stopstreaming control server listens on ${settings.bindHost}:$port (loopback only, " +
            "no token). To reach it from elsewhere, set spark.stopstreaming.auth.token; it then binds 0.0.0.0."
        )
      } else {
        log.info(s"stopstreaming control server listens on ${settings.bindHost}:$port (bearer token required)")
      }
    } catch {
      case NonFatal(e) =>
        log.error(
          s"stopstreaming could not start its control server on ${settings.bindHost}:" +
            s"${settings.restPort} (${e.getMessage}); queries run on, but cannot be stopped over HTTP",
          e
        )
    }

  /** The port of the control server the plugin started, if REST is on. */
  def restPort: Option[Int] = mainServerPort

  /** The URL an operator on this host uses to reach the control server. */
  def restUrl: Option[String] = mainServerPort.map(Hosts.url(settings.scheme, settings.bindHost, _))

  /** Serves `POST {stopPath}/{id}` for this query on `port` (shared with every other user of that port) until the query
    * ends; returns the bound port. Without a token, the default host `0.0.0.0` is narrowed to loopback.
    */
  def attachRest(t: TrackedQuery, requestedHost: String, port: Int, stopPath: String, defaultHost: String): Int = {
    StopPaths.check(stopPath).left.foreach(m => throw new IllegalArgumentException(s"stopPath: $m"))
    if (port < 0 || port > 65535) throw new IllegalArgumentException(s"port: $port is outside 0..65535")
    val host =
      if (StopStreamingRuntime.narrowed(settings, requestedHost, defaultHost) != requestedHost) {
        log.warn(
          s"stop server on port $port: no token is configured, so it binds to 127.0.0.1 instead of " +
            s"$defaultHost. Set spark.stopstreaming.auth.token (or STOPSTREAMING_TOKEN) to accept stops from other hosts."
        )
        "127.0.0.1"
      } else {
        if (settings.token.isEmpty && !Hosts.isLoopback(requestedHost))
          log.warn(s"stop server binds $requestedHost:$port without a token: anyone who can reach it can stop queries")
        requestedHost
      }
    val bound = servers.acquire(host, port, stopPath)
    t.onEnd(() => servers.release(bound, stopPath))
    bound
  }

  /** Registers a query and watches its marker in a stop directory of its own; returns the resolved directory. */
  def watchMarker(query: StreamingQuery, stopDir: String): Path = markers.watchOwn(plane.register(query), stopDir)

  def close(): Unit = {
    shutdownDrain.foreach(_.uninstall())
    try servers.closeAll()
    catch { case NonFatal(e) => log.warn("closing the control servers failed", e) }
    markers.close()
    plane.close()
    lastRuns.close()
  }
}

object StopStreamingRuntime {
  private def instance = CurrentRuntime.instance

  def current: Option[StopStreamingRuntime] = Option(instance.get)

  /** The running control plane, if any. */
  def plane: Option[ControlPlane] = current.map(_.plane)

  def recordSession(session: SparkSession): Unit = current.foreach(_.plane.sessions.record(session))

  /** Starts the control plane for the plugin; the previous one (of a stopped context) is closed. */
  def startForPlugin(
      settings: ControlSettings,
      hadoopConf: Configuration,
      sc: Option[SparkContext] = None
  ): StopStreamingRuntime = synchronized {
    Option(instance.getAndSet(null)).foreach(_.close())
    val rt = create(settings, hadoopConf, sc)
    instance.set(rt)
    rt
  }

  /** The running runtime, or one started now with `start` (under the same lock, so only one is ever started). */
  def getOrStart(start: => (ControlSettings, SparkContext)): StopStreamingRuntime = synchronized {
    current.getOrElse {
      val (settings, sc) = start
      val rt = create(settings, sc.hadoopConfiguration, Some(sc))
      instance.set(rt)
      rt
    }
  }

  private def create(
      settings: ControlSettings,
      hadoopConf: Configuration,
      sc: Option[SparkContext]
  ): StopStreamingRuntime = {
    // First, because it may fail (a corrupt file): then nothing else has been started.
    val store = openStore(settings, hadoopConf)
    val rt = new StopStreamingRuntime(new ControlPlane(settings, store), hadoopConf, sc)
    try rt.start()
    catch { case NonFatal(e) => rt.close(); throw e }
    rt
  }

  /** The host a query's own stop server binds: without a token, the 0.x default host (all interfaces) becomes loopback;
    * any other host is used as given.
    */
  private def narrowed(settings: ControlSettings, requestedHost: String, defaultHost: String): String =
    if (requestedHost == defaultHost && settings.token.isEmpty) "127.0.0.1" else requestedHost

  /** Stops the given runtime if it is the current one. */
  def shutdown(rt: StopStreamingRuntime): Unit = synchronized {
    if (instance.compareAndSet(rt, null)) rt.close()
  }

  private def openStore(settings: ControlSettings, hadoopConf: Configuration): DynamicConfStore = {
    val key = Settings.ConfFile.fullKey
    val file =
      try settings.confFile.map(f => new ConfFile(new Path(f), hadoopConf))
      catch { case NonFatal(e) => throw new InvalidSettingException(key, e.getMessage) }
    try DynamicConfStore.open(settings.confInitial, file, settings.confMaxBytes)
    catch { case NonFatal(e) => throw new InvalidSettingException(key, e.getMessage) }
  }
}

/** The running runtime, held apart from [[StopStreamingRuntime]]'s companion so that [[EarlyBind]] can ask whether one
  * runs without loading that large class first.
  */
private[runtime] object CurrentRuntime {
  val instance = new AtomicReference[StopStreamingRuntime]()
}
