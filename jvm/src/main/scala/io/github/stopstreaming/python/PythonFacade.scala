package io.github.stopstreaming.python

import io.github.stopstreaming.BuildInfo
import io.github.stopstreaming.control.{ControlPlane, StopMode, StopOutcome, StopSource, TrackedQuery}
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

  private def plane: ControlPlane =
    ControlPlane.current.getOrElse(throw new IllegalStateException("the stopstreaming control plane is not running"))
}
