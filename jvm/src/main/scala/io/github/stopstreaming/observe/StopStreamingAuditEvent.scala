package io.github.stopstreaming.observe

import com.fasterxml.jackson.annotation.{JsonAnyGetter, JsonCreator, JsonIgnoreProperties}
import com.fasterxml.jackson.databind.JsonNode
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.AuditRecord
import org.apache.spark.scheduler.SparkListenerEvent

/** An audit record on Spark's listener bus: it lands in the event log (`spark.eventLog.enabled`) as a line whose
  * `"Event"` is this class's name, readable by a History Server and by any `SparkListener` (which reads `record`).
  *
  * Its fields in the event log are the record's JSON as [[Json.auditRecord]] writes it for `GET /api/v1/events`, so the
  * two cannot drift apart; a History Server that has this class reads the line back into the record.
  */
@JsonIgnoreProperties(Array("record"))
final case class StopStreamingAuditEvent(record: AuditRecord) extends SparkListenerEvent {

  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  private def this(json: JsonNode) = this(Json.readAuditRecord(json))

  // The fields a SparkListener read before the event carried the record, kept so such a listener still compiles.
  def seq: Long = record.seq
  def time: String = record.time.toString
  def kind: String = record.kind
  def queryId: Option[String] = record.queryId
  def queryName: Option[String] = record.queryName
  def source: String = record.source
  def mode: Option[String] = record.mode
  def options: Map[String, String] = record.options
  def client: Option[String] = record.client
  def authenticated: Boolean = record.authenticated
  def outcome: String = record.outcome
  def durationMs: Option[Long] = record.durationMs

  /** What Spark's JSON writer puts beside `"Event"`. */
  @JsonAnyGetter
  def fields: java.util.Map[String, Any] = Json.auditRecord(record)
}
