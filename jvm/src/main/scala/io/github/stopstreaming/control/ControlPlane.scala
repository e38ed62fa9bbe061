package io.github.stopstreaming.control

import java.util.UUID
import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

import io.github.stopstreaming.extensions.conf.{FileSystemStopConfig, RestStopConfig, StopConfig}
import io.github.stopstreaming.dynconf.{ConfFile, DynamicConfStore}
import io.github.stopstreaming.fs.MarkerWatcher
import io.github.stopstreaming.rest.ControlServers
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.SparkContext
import org.apache.spark.scheduler.{SparkListener, SparkListenerApplicationEnd}
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** What became of a stop request. */
sealed trait StopOutcome
object StopOutcome {
  final case class Accepted(query: TrackedQuery, state: StopState) extends StopOutcome
  final case class AlreadyEnded(query: EndedQuery) extends StopOutcome
  case object NotFound extends StopOutcome
}

/** The control plane: one per driver JVM. It owns the query registry, the stopper and the HTTP servers, and every way
  * of stopping a query ends in [[requestStop]].
  */
final class ControlPlane private (val settings: ControlSettings, hadoopConf: Configuration) {
  private val log = LoggerFactory.getLogger(getClass)

  // First, because it may fail (a corrupt file): then nothing else has been started.
  val dynamicConf: DynamicConfStore = ControlPlane.openStore(settings, hadoopConf)

  val threads = new NamedThreads
  val sessions = new SessionRegistry
  val registry = new QueryRegistry(settings.retainTerminated, e => markers.unwatch(e.id, e.runId))
  val stopper = new Stopper(threads)
  val servers = new ControlServers(this)
  val markers = new MarkerWatcher(this, hadoopConf, settings.fsPollIntervalMs)

  private val shutdownDrain =
    if (settings.shutdownGraceful) Some(new ShutdownDrain(this, settings.shutdownTimeoutMs)) else None

  /** The plugin-wide stop directory (`fs.stopDir`), resolved and created at start. */
  @volatile private var defaultStopDir: Option[Path] = None

  @volatile private var mainServerPort: Option[Int] = None

  private def start(): Unit = {
    shutdownDrain.foreach(_.install())
    if (settings.restEnabled) startServer()
    settings.fsStopDir.foreach { dir =>
      val p =
        try markers.prepare(dir)
        catch {
          case e: IllegalArgumentException =>
            throw new InvalidSettingException(ControlSettings.Prefix + "fs.stopDir", e.getMessage)
        }
      markers.keepPolling(p)
      defaultStopDir = Some(p)
    }
    log.info(s"stopstreaming control plane started: $settings")
  }

  // A port already taken must not take the driver down: the plane runs on without HTTP.
  private def startServer(): Unit =
    try {
      val port = servers.acquire(settings.bindHost, settings.restPort, settings.stopPath)
      mainServerPort = Some(port)
      if (settings.token.isEmpty && !ControlPlane.isLoopback(settings.bindHost)) {
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
  def restUrl: Option[String] = mainServerPort.map { p =>
    val host = settings.bindHost match {
      case "0.0.0.0" | "::" => ControlPlane.localHostName
      case h => h
    }
    val shown = if (host.contains(":")) s"[$host]" else host
    s"http://$shown:$p"
  }

  /** Registers a running query (idempotent); used by the APIs and by auto-registration. */
  def register(query: StreamingQuery): TrackedQuery = {
    val (t, fresh) = registry.register(query)
    if (fresh) defaultStopDir.foreach(markers.watch(t, _))
    t
  }

  /** Registers a query and listens for its stop as the seed-style `config` says. */
  def attach(query: StreamingQuery, config: StopConfig): TrackedQuery = config match {
    case r: RestStopConfig =>
      val t = register(query)
      attachRest(t, r)
      t
    case f: FileSystemStopConfig =>
      watchMarker(query, f.resolvedStopDir)
      register(query)
  }

  /** Serves `POST {stopPath}/{id}` for this query on `config.port` (shared with every other user of that port) until
    * the query ends. Returns the bound port.
    */
  def attachRest(t: TrackedQuery, config: RestStopConfig): Int = {
    ControlSettings.validateStopPath(config.stopPath, "RestStopConfig.stopPath")
    if (config.port < 0 || config.port > 65535)
      throw new IllegalArgumentException(s"RestStopConfig.port: ${config.port} is outside 0..65535")
    val host =
      if (config.host == RestStopConfig.DefaultHost && settings.token.isEmpty) {
        log.warn(
          s"RestStopConfig on port ${config.port}: no token is configured, so the server binds to " +
            "127.0.0.1 instead of 0.0.0.0. Set spark.stopstreaming.auth.token (or STOPSTREAMING_TOKEN) " +
            "to accept stops from other hosts."
        )
        "127.0.0.1"
      } else {
        if (settings.token.isEmpty && !ControlPlane.isLoopback(config.host))
          log.warn(
            s"RestStopConfig binds ${config.host}:${config.port} without a token: anyone who can reach it can stop queries"
          )
        config.host
      }
    val port = servers.acquire(host, config.port, config.stopPath)
    t.onEnd(() => servers.release(port, config.stopPath))
    port
  }

  /** Watches a query's marker in a stop directory of its own (the API's `FileSystemStopConfig`). */
  def watchMarker(query: StreamingQuery, stopDir: String): Path = {
    val t = register(query)
    val dir = markers.prepare(stopDir)
    if (!defaultStopDir.contains(dir)) markers.watch(t, dir)
    dir
  }

  private[stopstreaming] def onQueryStarted(id: UUID, runId: UUID): Unit =
    if (settings.autoRegister) {
      sessions.findQuery(id) match {
        case Some(q) if q.runId == runId => register(q)
        case _ => log.warn(s"query $id started but was not found in any known session; it is not registered")
      }
    }

  private[stopstreaming] def onQueryTerminated(id: UUID, runId: UUID, exception: Option[String]): Unit =
    registry.markEnded(id, runId, exception.map(s => if (s.length > 4000) s.take(4000) + "..." else s))

  /** The one entry point of every stop: HTTP, marker files, shutdown and the APIs all call it. Mode and timeout default
    * to the configured ones.
    */
  def requestStop(idOrName: String, mode: Option[StopMode], timeoutMs: Option[Long], source: StopSource): StopOutcome =
    registry.lookup(idOrName) match {
      case Some(Left(t)) =>
        val s =
          stopper.request(t, mode.getOrElse(settings.stopMode), timeoutMs.getOrElse(settings.stopTimeoutMs), source)
        StopOutcome.Accepted(t, s)
      case Some(Right(e)) => StopOutcome.AlreadyEnded(e)
      case None => StopOutcome.NotFound
    }

  def close(): Unit = {
    shutdownDrain.foreach(_.uninstall())
    try servers.closeAll()
    catch { case NonFatal(e) => log.warn("closing the control servers failed", e) }
    markers.close()
    stopper.close()
    log.info("stopstreaming control plane stopped")
  }
}

object ControlPlane {
  private val log = LoggerFactory.getLogger(getClass)
  private val instance = new AtomicReference[ControlPlane]()

  def current: Option[ControlPlane] = Option(instance.get)

  private[stopstreaming] def recordSession(session: SparkSession): Unit =
    current.foreach(_.sessions.record(session))

  /** Starts the control plane for the plugin; the previous one (of a stopped context) is closed. */
  def startForPlugin(settings: ControlSettings, hadoopConf: Configuration): ControlPlane = synchronized {
    Option(instance.getAndSet(null)).foreach(_.close())
    val cp = new ControlPlane(settings, hadoopConf)
    try cp.start()
    catch { case NonFatal(e) => cp.close(); throw e }
    instance.set(cp)
    cp
  }

  /** The running control plane, or one started now from the session's Spark conf when no plugin was configured (the jar
    * is only on the classpath, as in a notebook attached to a cluster).
    */
  def getOrStart(spark: SparkSession): ControlPlane = synchronized {
    val cp = current.getOrElse {
      val settings = ControlSettings.fromConf(spark.sparkContext.getConf.getAll.toMap)
      val started = new ControlPlane(settings, spark.sparkContext.hadoopConfiguration)
      try started.start()
      catch { case NonFatal(e) => started.close(); throw e }
      instance.set(started)
      stopWithContext(spark.sparkContext, started)
      started
    }
    if (cp.sessions.contains(spark)) cp
    else {
      cp.sessions.record(spark)
      // Sessions built before the plugin could name its listener get it here.
      if (!hasOwnListener(spark)) spark.streams.addListener(new io.github.stopstreaming.plugin.QueryEventsListener())
      cp
    }
  }

  private def hasOwnListener(spark: SparkSession): Boolean =
    try spark.streams.listListeners().exists(_.isInstanceOf[io.github.stopstreaming.plugin.QueryEventsListener])
    catch { case NonFatal(_) => false }

  private def stopWithContext(sc: SparkContext, cp: ControlPlane): Unit =
    sc.addSparkListener(new SparkListener {
      override def onApplicationEnd(end: SparkListenerApplicationEnd): Unit = shutdown(cp)
    })

  /** Stops the given control plane if it is the current one. */
  def shutdown(cp: ControlPlane): Unit = synchronized {
    if (instance.compareAndSet(cp, null)) cp.close()
  }

  private def openStore(settings: ControlSettings, hadoopConf: Configuration): DynamicConfStore = {
    val file =
      try settings.confFile.map(f => new ConfFile(new Path(f), hadoopConf))
      catch {
        case NonFatal(e) => throw new InvalidSettingException(ControlSettings.Prefix + "conf.file", e.getMessage)
      }
    try DynamicConfStore.open(settings.confSeed, file)
    catch {
      case NonFatal(e) => throw new InvalidSettingException(ControlSettings.Prefix + "conf.file", e.getMessage)
    }
  }

  def isLoopback(host: String): Boolean =
    host == "localhost" || host.startsWith("127.") || host == "::1" || host == "[::1]"

  private[control] def localHostName: String =
    try java.net.InetAddress.getLocalHost.getHostName
    catch { case NonFatal(_) => "localhost" }
}
