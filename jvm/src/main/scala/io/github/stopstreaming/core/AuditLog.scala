package io.github.stopstreaming.core

import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong

import scala.jdk.CollectionConverters._

/** One structured record of the audit trail: a stop request (accepted or refused), a stop's outcome, or a change of the
  * dynamic configuration. Never holds a token.
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
}

/** The audit trail: every record made at the control plane's door, numbered, the latest `capacity` kept in memory (for
  * `GET /api/v1/events`), and each handed to the sinks (the driver log, Spark's listener bus) as it is made.
  */
final class AuditLog(capacity: Int) extends ControlPlaneListener {
  private val seq = new AtomicLong()
  private val kept = new java.util.ArrayDeque[AuditRecord]()
  private val sinks = new CopyOnWriteArrayList[AuditRecord => Unit]()

  def addSink(sink: AuditRecord => Unit): Unit = sinks.add(sink)

  /** Records after `since` (a sequence number), oldest first. */
  def since(since: Long): Seq[AuditRecord] = kept.synchronized(kept.asScala.filter(_.seq > since).toSeq)

  private def record(make: Long => AuditRecord): Unit = {
    val r = kept.synchronized {
      val r = make(seq.incrementAndGet())
      kept.addLast(r)
      while (kept.size > capacity) kept.removeFirst()
      r
    }
    sinks.forEach(s => s(r))
  }

  override def stopRequested(
      target: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller,
      outcome: StopOutcome
  ): Unit = {
    val options = request.timeoutMs.map(t => "timeout" -> s"${t}ms").toMap ++
      Some(request.when).filter(_ != StopCondition.Now).map(w => "when" -> w.text)
    val (id, name, result, mode) = outcome match {
      case StopOutcome.Accepted(t, s) => (Some(t.id.toString), t.name, s"accepted: ${s.phase}", Some(s.mode.name))
      case StopOutcome.Pending(t, p) => (Some(t.id.toString), t.name, s"pending: ${p.condition}", Some("graceful"))
      case StopOutcome.AlreadyEnded(e) => (Some(e.id.toString), e.name, "already ended", request.mode.map(_.name))
      case StopOutcome.NotFound => (None, Some(target), "refused: no such query", request.mode.map(_.name))
      case StopOutcome.Ambiguous(m) => (None, Some(target), s"refused: ${m.size} queries have this name", None)
    }
    val kind = outcome match {
      case StopOutcome.NotFound | _: StopOutcome.Ambiguous => AuditRecord.StopRefused
      case _ => AuditRecord.StopRequested
    }
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        kind,
        id,
        name,
        source.name,
        mode,
        options,
        caller.address,
        caller.authenticated,
        result,
        None
      )
    )
  }

  override def stopRefused(target: String, source: StopSource, caller: Caller, why: String): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopRefused,
        None,
        Some(target),
        source.name,
        None,
        Map.empty,
        caller.address,
        caller.authenticated,
        s"refused: $why",
        None
      )
    )

  override def stopFinished(t: StopTarget, s: StopState): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopFinished,
        Some(t.id.toString),
        t.name,
        s.source.name,
        Some(s.mode.name),
        s.detail.map(d => "detail" -> d).toMap,
        None,
        authenticated = false,
        s.phase.name,
        s.completedAt.map(c => c.toEpochMilli - s.requestedAt.toEpochMilli)
      )
    )

  override def stopCancelled(t: TrackedQuery, was: PendingStop, source: StopSource, caller: Caller): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopCancelled,
        Some(t.id.toString),
        t.name,
        source.name,
        Some("graceful"),
        Map("when" -> was.condition.text),
        caller.address,
        caller.authenticated,
        "cancelled",
        None
      )
    )

  override def confChanged(change: ConfChange, caller: Caller): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        if (change.refused.isDefined) AuditRecord.ConfRefused else AuditRecord.ConfChanged,
        None,
        None,
        change.source,
        None,
        Map("key" -> change.key, "op" -> change.op) ++ change.version.map(v => "version" -> v.toString),
        caller.address,
        caller.authenticated,
        change.refused.getOrElse("ok"),
        None
      )
    )
}

/** A change of the dynamic configuration asked at the door: `op` is `set` or `unset`; `refused` says why not. */
final case class ConfChange(key: String, op: String, version: Option[Long], refused: Option[String], source: String)
