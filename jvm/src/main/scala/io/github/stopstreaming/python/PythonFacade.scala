package io.github.stopstreaming.python

import java.util.concurrent.{TimeUnit, TimeoutException}

import io.github.stopstreaming.BuildInfo
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import io.github.stopstreaming.extensions.conf.{FileSystemStopConfig, FsType, RestStopConfig, StopConfigLoader}
import io.github.stopstreaming.plugin.SessionAttach
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery

/** The one entry point Python calls over Py4J. It takes and returns Java types only (strings, ints), so nothing
  * Scala-specific crosses the bridge; expected failures are the [[FacadeException]] classes (and the settings and HOCON
  * exceptions), which Python maps to its own errors.
  */
object PythonFacade {
  def version(): String = BuildInfo.version

  /** Starts the control plane if no plugin did; returns its URL, or "" when HTTP is off. */
  def ensureStarted(spark: SparkSession): String = SessionAttach.runtimeFor(spark).restUrl.getOrElse("")

  /** Registers a running query; returns its id. */
  def register(spark: SparkSession, query: StreamingQuery): String = {
    SessionAttach.runtimeFor(spark).plane.register(query)
    query.id.toString
  }

  /** Registers a query and serves `POST {stopPath}/{id}` for it on `port`; returns the bound port. */
  def attachRest(spark: SparkSession, query: StreamingQuery, host: String, port: Int, stopPath: String): Int =
    argument(SessionAttach.attachRest(spark, query, host, port, stopPath, RestStopConfig.DefaultHost))

  /** Registers a query and watches its marker file; returns the resolved stop directory. */
  def attachFileSystem(spark: SparkSession, query: StreamingQuery, stopDir: String, fsType: String): String =
    argument {
      val t = FsType
        .fromString(fsType)
        .getOrElse(throw new IllegalArgumentException(s"fs_type '$fsType' is not LocalFileSystem or DBFS"))
      SessionAttach.runtimeFor(spark).watchMarker(query, FileSystemStopConfig(stopDir, t).resolvedStopDir).toString
    }

  /** Reads the HOCON stop configuration (from `path`, or application.conf when empty) as a small JSON object. */
  def loadConfig(path: String): String = {
    val c = if (path == null || path.isEmpty) StopConfigLoader.load() else StopConfigLoader.load(path)
    Json.string(c match {
      case RestStopConfig(h, p, sp) => Json.obj("backend" -> "rest", "host" -> h, "port" -> p, "stopPath" -> sp)
      case FileSystemStopConfig(d, t) => Json.obj("backend" -> "filesystem", "stopDir" -> d, "fsType" -> t.toString)
    })
  }

  /** The JSON view of one query, as `GET /api/v1/queries/{idOrName}` shows it. */
  def queryJson(idOrName: String): String = plane.registry.lookup(idOrName) match {
    case Lookup.Running(t) => Json.string(Json.query(t.view))
    case Lookup.Ended(e) => Json.string(Json.query(e.view))
    case Lookup.NotFound => throw notFound(idOrName)
    case Lookup.Ambiguous(m) => throw ambiguous(idOrName, m)
  }

  /** Requests a stop of a registered query (mode and timeout may be empty for the defaults) and returns at once with
    * the query's JSON.
    */
  def requestStop(spark: SparkSession, query: StreamingQuery, mode: String, timeout: String): String =
    requestStop(spark, query, mode, timeout, null)

  /** As above, with a condition (`when`: caught-up, batch:N, in:<duration>, an ISO-8601 instant; null for now). */
  def requestStop(spark: SparkSession, query: StreamingQuery, mode: String, timeout: String, when: String): String =
    requestStop(spark, query, mode, timeout, when, null)

  /** As above; with `wait` (a duration, at most 10m as over HTTP) it returns once the stop has settled (the query
    * ended, or a pending stop was cancelled or replaced) or the wait ran out, with the query's JSON then.
    */
  def requestStop(
      spark: SparkSession,
      query: StreamingQuery,
      mode: String,
      timeout: String,
      when: String,
      wait: String
  ): String = {
    val request = StopRequest
      .parse(Option(mode), Option(timeout), Option(when))
      .fold(m => throw new InvalidArgumentException(m), identity)
    val waitMs = Option(wait).map(_.trim).filter(_.nonEmpty).fold(0L) { w =>
      Durations.parse(w).getOrElse(throw new InvalidArgumentException(s"wait '$w' is not a duration such as 30s or 5m"))
    }
    if (waitMs > MaxWaitMs) throw new InvalidArgumentException(s"wait is at most ${MaxWaitMs / 60000}m")
    val rt = SessionAttach.runtimeFor(spark)
    rt.plane.register(query)
    val id = query.id.toString
    val outcome = rt.plane.requestStop(id, request, StopSource.Api)
    outcome match {
      case StopOutcome.NotFound => throw notFound(id)
      case StopOutcome.Ambiguous(m) => throw ambiguous(id, m)
      case _ =>
        if (waitMs > 0)
          try rt.plane.settled(outcome).get(waitMs, TimeUnit.MILLISECONDS)
          catch { case _: TimeoutException => () }
        queryJson(id)
    }
  }

  /** The longest `wait` of [[requestStop]], the same as the HTTP API's. */
  private val MaxWaitMs = 10 * 60 * 1000L

  /** Cancels the pending conditional stop of a registered query; returns the query's JSON. */
  def cancelStop(query: StreamingQuery): String = {
    val id = query.id.toString
    plane.cancelStop(id, StopSource.Api) match {
      case CancelOutcome.NotFound => throw notFound(id)
      case CancelOutcome.Ambiguous(m) => throw ambiguous(id, m)
      case CancelOutcome.Cancelled(_, _) => queryJson(id)
      case CancelOutcome.NothingPending(t) =>
        throw new NothingPendingException(
          t.stop.fold(s"query $id has no pending stop to cancel")(s => s"the stop of query $id is already ${s.phase}")
        )
      case CancelOutcome.AlreadyEnded(_) => throw new NothingPendingException(s"query $id has already ended")
    }
  }

  /** Waits (at most `ms`) until the stop of an ended query is recorded as finished; see `ControlPlane`. */
  def awaitStopRecorded(queryId: String, ms: Long): Boolean =
    StopStreamingRuntime.plane.forall(_.awaitStopRecorded(java.util.UUID.fromString(queryId), ms))

  /** The dynamic value of `key`, or null. */
  def confGet(key: String): String = StopStreamingRuntime.plane.flatMap(_.dynamicConf.get(key)).map(_.value).orNull

  /** The dynamic configuration's version. */
  def confVersion(): Long = StopStreamingRuntime.plane.map(_.dynamicConf.version).getOrElse(0L)

  /** The whole dynamic configuration as JSON, as `GET /api/v1/conf` shows it. */
  def confJson(): String = Json.string(Json.conf(plane.dynamicConf.snapshot))

  /** Hands `listener` (a Python object) every new version of the dynamic configuration with its snapshot, before the
    * writer of the change is answered (waiting at most a second for Python). A listener that fails is dropped.
    */
  def addConfListener(listener: ConfChangeListener): Unit = {
    val store = plane.dynamicConf
    val calls = java.util.concurrent.Executors.newSingleThreadExecutor(plane.threads.factory("py-conf"))
    lazy val forward: ConfSnapshot => Unit = s => {
      val call = calls.submit(new Runnable { def run(): Unit = listener.changed(s.version, Json.string(Json.conf(s))) })
      try call.get(1, java.util.concurrent.TimeUnit.SECONDS)
      catch {
        case _: java.util.concurrent.TimeoutException => ()
        case _: Throwable =>
          store.removeListener(forward)
          calls.shutdown()
      }
    }
    store.addListener(forward)
  }

  /** Starts `name` from `recipe` (a Python object, over Py4J's callback server) and manages it; returns its JSON. The
    * policy's arguments fall back to the `restart.*` settings when empty (durations) or negative (numbers).
    */
  def manage(
      spark: SparkSession,
      name: String,
      recipe: QueryRecipe,
      initialDelay: String,
      factor: Int,
      maxDelay: String,
      maxRestarts: Int,
      window: String
  ): String = {
    val managed = SessionAttach.runtimeFor(spark).plane.managed
    val d = managed.defaultPolicy
    def ms(what: String, v: String, default: Long): Long =
      Option(v).map(_.trim).filter(_.nonEmpty).fold(default) { s =>
        Durations.parse(s).getOrElse(throw new InvalidArgumentException(s"$what '$s' is not a duration such as 30s"))
      }
    val policy =
      try
        RestartPolicy(
          ms("initial_delay", initialDelay, d.initialDelayMs),
          if (factor < 0) d.factor else factor,
          ms("max_delay", maxDelay, d.maxDelayMs),
          if (maxRestarts < 0) d.maxRestarts else maxRestarts,
          ms("window", window, d.windowMs)
        )
      catch {
        case e: IllegalArgumentException => throw new InvalidArgumentException(s"restart policy: ${e.getMessage}")
      }
    val v =
      try managed.manage(name, recipe, policy)
      catch { case e: ManagedQueryException => throw new InvalidArgumentException(e.getMessage) }
    Json.string(Json.managed(v))
  }

  /** One managed query as JSON, as `GET /api/v1/managed/{name}` shows it. */
  def managedJson(name: String): String =
    Json.string(Json.managed(plane.managed.find(name).getOrElse(throw notManaged(name))))

  /** The run of the moment of a managed query, or null. */
  def managedQuery(name: String): StreamingQuery =
    plane.managed.find(name).flatMap(_.queryId).flatMap(plane.registry.runningEntry).map(_.query).orNull

  /** `pause`, `resume`, `restart` or `stop` a managed query (`when`, `timeout` may be empty); with `waitMs` > 0,
    * returns once the state the action leads to is reached or the wait ran out. Returns the managed JSON then.
    */
  def managedAction(name: String, action: String, when: String, timeout: String, waitMs: Long): String = {
    val req = StopRequest
      .parse(None, Option(timeout), Option(when).filter(_.nonEmpty))
      .fold(m => throw new InvalidArgumentException(m), identity)
    if (waitMs > MaxWaitMs) throw new InvalidArgumentException(s"wait is at most ${MaxWaitMs / 60000}m")
    val m = plane.managed
    val before = m.find(name).getOrElse(throw notManaged(name))
    val outcome = action match {
      case "pause" => m.pause(name, req.when, req.timeoutMs, StopSource.Api, Caller.Internal)
      case "resume" => m.resume(name, StopSource.Api, Caller.Internal)
      case "restart" => m.restart(name, req.when, req.timeoutMs, StopSource.Api, Caller.Internal)
      case "stop" => m.stop(name, StopSource.Api, Caller.Internal)
      case other => throw new InvalidArgumentException(s"action '$other' is not pause, resume, restart or stop")
    }
    outcome match {
      case ManagedOutcome.NotFound => throw notManaged(name)
      case ManagedOutcome.Conflict(_, why) => throw new LifecycleConflictException(why)
      case ManagedOutcome.Accepted(_, changed) =>
        if (changed && waitMs > 0) m.await(name, waitMs)(ManagedQueries.reached(action, before.runs))
        managedJson(name)
    }
  }

  /** Waits up to `ms` for a managed query to be finished for good; returns its JSON then (its state tells). */
  def awaitManaged(name: String, ms: Long): String = {
    val f = plane.managed.terminated(name).getOrElse(throw notManaged(name))
    try f.get(ms, TimeUnit.MILLISECONDS)
    catch { case _: TimeoutException => () }
    // `terminated`: no more waiting (finished for good, or the control plane closed with the driver).
    val json = Json.managed(plane.managed.find(name).getOrElse(throw notManaged(name)))
    json.put("terminated", f.isDone)
    Json.string(json)
  }

  private def notManaged(name: String) = new QueryNotFoundException(s"no managed query named '$name'")

  /** Every `spark.stopstreaming.*` setting (key, kind, default, doc, Python name), as JSON. */
  def settingsJson(): String = Json.string(Json.settings(Settings.all))

  private def plane: ControlPlane =
    StopStreamingRuntime.plane.getOrElse(
      throw new NotRunningException("the stopstreaming control plane is not running")
    )

  private def notFound(idOrName: String) = new QueryNotFoundException(s"no query with id or name '$idOrName'")

  private def ambiguous(name: String, m: Seq[QueryView]) =
    new AmbiguousQueryException(
      s"${m.size} running queries are named '$name'; use an id: ${m.map(_.id).mkString(", ")}"
    )

  // Bad arguments of the attach calls reach Python as our own exception, with their message.
  private def argument[T](body: => T): T =
    try body
    catch {
      case e: InvalidSettingException => throw e
      case e: IllegalArgumentException => throw new InvalidArgumentException(e.getMessage)
    }
}
