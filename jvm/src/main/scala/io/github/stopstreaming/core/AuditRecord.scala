package io.github.stopstreaming.core

import java.time.Instant

/** One structured record of the audit trail: a stop request (accepted or refused), a stop's outcome, a change of the
  * dynamic configuration or a move of a managed query. Never holds a token. Made only by [[AuditRecords]]; `seq` is set
  * by the [[AuditLog]] that keeps it.
  */
final case class AuditRecord(
    seq: Long,
    time: Instant,
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
)

object AuditRecord {
  val StopRequested = "stop-requested"
  val StopRefused = "stop-refused"
  val StopFinished = "stop-finished"
  val StopCancelled = "stop-cancelled"
  val ConfChanged = "conf-changed"
  val ConfRefused = "conf-refused"

  /** A managed query moved to another state of its life (paused, resumed, restarted, failed, ...). */
  val Lifecycle = "lifecycle"
}
