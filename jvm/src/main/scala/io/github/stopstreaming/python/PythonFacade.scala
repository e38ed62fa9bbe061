package io.github.stopstreaming.python

import io.github.stopstreaming.BuildInfo
import io.github.stopstreaming.control.{ControlPlane, StopMode, StopOutcome, StopSource, TrackedQuery}
import io.github.stopstreaming.extensions.conf.{FileSystemStopConfig, FsType, RestStopConfig, StopConfigLoader}
import io.github.stopstreaming.rest.Json
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery

/** The one entry point Python calls over Py4J. It takes and returns Java types only (strings, ints), so nothing
  * Scala-specific crosses the bridge; failures are thrown as `IllegalArgumentException` / `NoSuchElementException`,
  * which Python maps to its own errors.
  */
object PythonFacade {
  def version(): String = BuildInfo.version

  def sparkVersion(): String = BuildInfo.sparkVersion

  /** Starts the control plane if no plugin did; returns its URL, or "" when HTTP is off. */
  def ensureStarted(spark: SparkSession): String = ControlPlane.getOrStart(spark).restUrl.getOrElse("")

  /** Registers a running query; returns its id. */
  def register(spark: SparkSession, query: StreamingQuery): String = {
    ControlPlane.getOrStart(spark).register(query)
    query.id.toString
  }

  /** Registers a running query and watches its marker in `stopDir`; returns the resolved directory. */
  def watchMarker(spark: SparkSession, query: StreamingQuery, stopDir: String): String = {
    ControlPlane.getOrStart(spark).watchMarker(query, stopDir).toString
  }

  /** Registers a query and serves the seed's `POST {stopPath}/{id}` for it on `port`; returns the bound port. */
  def attachRest(spark: SparkSession, query: StreamingQuery, host: String, port: Int, stopPath: String): Int = {
    val cp = ControlPlane.getOrStart(spark)
    cp.attachRest(cp.register(query), RestStopConfig(host, port, stopPath))
  }

  /** Registers a query and watches its marker file; returns the resolved stop directory. */
  def attachFileSystem(spark: SparkSession, query: StreamingQuery, stopDir: String, fsType: String): String = {
    val t = FsType
      .fromString(fsType)
      .getOrElse(throw new IllegalArgumentException(s"fs_type '$fsType' is not LocalFileSystem or DBFS"))
    ControlPlane.getOrStart(spark).watchMarker(query, FileSystemStopConfig(stopDir, t).resolvedStopDir).toString
  }

  /** Reads the seed's HOCON block (from `path`, or application.conf when empty) as a small JSON object. */
  def loadConfig(path: String): String = {
    val c = if (path == null || path.isEmpty) StopConfigLoader.load() else StopConfigLoader.load(path)
    val obj = c match {
      case RestStopConfig(h, p, sp) => Json.obj("backend" -> "rest", "host" -> h, "port" -> p, "stopPath" -> sp)
      case FileSystemStopConfig(d, t) => Json.obj("backend" -> "filesystem", "stopDir" -> d, "fsType" -> t.toString)
    }
    new String(Json.bytes(obj), "UTF-8")
  }

  /** The JSON view of one query, as `GET /api/v1/queries/{idOrName}` shows it. */
  def queryJson(idOrName: String): String = {
    val cp = plane
    cp.registry.lookup(idOrName) match {
      case Some(Left(t)) => new String(Json.bytes(Json.query(t.view)), "UTF-8")
      case Some(Right(e)) => new String(Json.bytes(Json.query(TrackedQuery.view(e))), "UTF-8")
      case None => throw new NoSuchElementException(s"no query with id or name '$idOrName'")
    }
  }

  /** Requests a stop (mode and timeout may be empty for the defaults); returns the query JSON. */
  def stop(idOrName: String, mode: String, timeout: String): String = {
    val m = Option(mode)
      .filter(_.nonEmpty)
      .map(s =>
        StopMode.parse(s).getOrElse(throw new IllegalArgumentException(s"mode '$s' is not graceful or immediate"))
      )
    val t = Option(timeout)
      .filter(_.nonEmpty)
      .map(s =>
        io.github.stopstreaming.control.ControlSettings
          .parseDuration(s)
          .getOrElse(throw new IllegalArgumentException(s"timeout '$s' is not a duration"))
      )
    plane.requestStop(idOrName, m, t, StopSource.Api) match {
      case StopOutcome.NotFound => throw new NoSuchElementException(s"no query with id or name '$idOrName'")
      case _ => queryJson(idOrName)
    }
  }

  /** The dynamic value of `key`, or null. */
  def confGet(key: String): String = ControlPlane.current.flatMap(_.dynamicConf.get(key)).map(_.value).orNull

  /** The dynamic configuration's version. */
  def confVersion(): Long = ControlPlane.current.map(_.dynamicConf.version).getOrElse(0L)

  /** The whole dynamic configuration as JSON, as `GET /api/v1/conf` shows it. */
  def confJson(): String = new String(Json.bytes(Json.conf(plane.dynamicConf.snapshot)), "UTF-8")

  private def plane: ControlPlane =
    ControlPlane.current.getOrElse(throw new IllegalStateException("the stopstreaming control plane is not running"))
}
