package io.github.stopstreaming.fs

import java.nio.charset.StandardCharsets.UTF_8

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.{Secrets, StopRequest, TrackedQuery}

/** What goes into a marker file, and what a `<name-or-id>.stop` file may ask for. */
object MarkerFiles {
  val StopSuffix = ".stop"
  val MaxStopFileBytes: Int = 64 * 1024
  private val StopFileFields = Set("mode", "timeout", "when")

  /** The marker of a running query: enough for an operator to know what runs and where to ask. With a token, the marker
    * proves that its driver holds it ([[proof]]): a fleet sends the token only to a `controlUrl` so proven.
    */
  def markerJson(t: TrackedQuery, driverHost: String, controlUrl: Option[String], token: Option[String]): Array[Byte] =
    Json.bytes(
      Json.obj(
        "id" -> t.id.toString,
        "runId" -> t.runId.toString,
        "name" -> t.name,
        "startedAt" -> t.startedAt.toString,
        "driverHost" -> driverHost,
        "controlUrl" -> controlUrl,
        "proof" -> token.map(proof(_, t.id.toString, t.runId.toString, driverHost, controlUrl)),
        "stop" -> "delete this file to stop the query gracefully"
      )
    )

  /** HMAC-SHA256, keyed by the token, of the fields a fleet acts on, one per line after a version tag. Anyone may write
    * a marker into a shared directory; only a driver that holds the token can write one whose proof checks out.
    */
  def proof(token: String, id: String, runId: String, driverHost: String, controlUrl: Option[String]): String =
    Secrets.hmacHex(token, Seq(ProofVersion, id, runId, driverHost, controlUrl.getOrElse("")).mkString("\n"))

  val ProofVersion = "stopstreaming-marker-v1"

  /** Options of a stop file; empty content means the configured defaults. */
  def parseStopFile(bytes: Array[Byte]): Either[String, StopRequest] = {
    val text = new String(bytes, UTF_8).trim
    if (text.isEmpty) Right(StopRequest.Default)
    else
      Json.readFlatObject(text).left.map(_ + ", such as {\"mode\":\"immediate\"}").flatMap { fields =>
        val unknown = fields.keys.toSeq.sorted.filterNot(StopFileFields)
        if (unknown.nonEmpty) Left(s"unknown field(s): ${unknown.mkString(", ")}; known: mode, timeout, when")
        else StopRequest.parse(fields.get("mode"), fields.get("timeout"), fields.get("when"))
      }
  }
}
