package io.github.stopstreaming.fs

import java.nio.charset.StandardCharsets.UTF_8

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import io.github.stopstreaming.control.{ControlSettings, StopMode, TrackedQuery}
import io.github.stopstreaming.rest.Json

/** What goes into a marker file, and what a `<name-or-id>.stop` file may ask for. */
object MarkerFiles {
  val StopSuffix = ".stop"
  val MaxStopFileBytes: Int = 64 * 1024
  private val mapper = new ObjectMapper()

  /** The marker of a running query: enough for an operator to know what runs and where to ask. */
  def markerJson(t: TrackedQuery, driverHost: String, controlUrl: Option[String]): Array[Byte] =
    Json.bytes(
      Json.obj(
        "id" -> t.id.toString,
        "runId" -> t.runId.toString,
        "name" -> t.name,
        "startedAt" -> t.startedAt.toString,
        "driverHost" -> driverHost,
        "controlUrl" -> controlUrl,
        "stop" -> "delete this file to stop the query gracefully"
      )
    )

  /** Options of a stop file; empty content means the configured defaults. */
  final case class StopFileRequest(mode: Option[StopMode], timeoutMs: Option[Long])

  def parseStopFile(bytes: Array[Byte]): Either[String, StopFileRequest] = {
    val text = new String(bytes, UTF_8).trim
    if (text.isEmpty) return Right(StopFileRequest(None, None))
    try {
      val node = mapper.readTree(text)
      if (node == null || !node.isObject) return Left("content must be a JSON object such as {\"mode\":\"immediate\"}")
      val unknown = node.fieldNames().asScala.toSeq.filterNot(Set("mode", "timeout"))
      if (unknown.nonEmpty) return Left(s"unknown field(s): ${unknown.mkString(", ")}; known: mode, timeout")
      val mode = Option(node.get("mode")).map { m =>
        StopMode.parse(m.asText()).getOrElse(return Left(s"mode '${m.asText()}' is not graceful or immediate"))
      }
      val timeout = Option(node.get("timeout")).map { t =>
        ControlSettings.parseDuration(t.asText()).getOrElse(return Left(s"timeout '${t.asText()}' is not a duration"))
      }
      Right(StopFileRequest(mode, timeout))
    } catch { case NonFatal(e) => Left(s"content is not valid JSON (${e.getClass.getSimpleName})") }
  }
}
