package io.github.stopstreaming.observe

import io.github.stopstreaming.core.AuditRecord
import org.apache.spark.scheduler.SparkListenerEvent

/** An audit record on Spark's listener bus: it lands in the event log (`spark.eventLog.enabled`) as a line whose
  * `"Event"` is this class's name, readable by a History Server and by any `SparkListener`.
  */
case class StopStreamingAuditEvent(
    seq: Long,
    time: String,
    kind: String,
    queryId: Option[String],
    queryName: Option[String],
    source: String,
    mode: Option[String],
    options: Map[String, String],
    client: Option[String],
    authenticated: Boolean,
    outcome: String,
    durationMs: Option[Long]
) extends SparkListenerEvent

object StopStreamingAuditEvent {
  def apply(r: AuditRecord): StopStreamingAuditEvent =
    StopStreamingAuditEvent(
      r.seq,
      r.time.toString,
      r.kind,
      r.queryId,
      r.queryName,
      r.source,
      r.mode,
      r.options,
      r.client,
      r.authenticated,
      r.outcome,
      r.durationMs
    )
}
