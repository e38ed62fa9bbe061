package io.github.stopstreaming.core

import java.time.Instant

/** What one event puts in the audit trail: its record and, for a refusal of a caller without the token, the reason it
  * is sampled under (see [[RefusalSampler]]) instead of being kept.
  */
final case class AuditEntry(record: AuditRecord, sampledAs: Option[String])

/** The one place audit records are made: one constructor per [[ControlEvent]] kind that leaves a record, and one for
  * the summary of a sampler's window. Every text that came from outside is escaped and cut here ([[SafeText]]). The
  * records are not numbered yet (`seq` 0); the [[AuditLog]] that keeps one numbers it.
  */
object AuditRecords {

  /** The entry `event` makes, or None for an event the trail does not record (a query registered or ended). */
  def of(event: ControlEvent, now: Instant = Instant.now()): Option[AuditEntry] = event match {
    case e: ControlEvent.StopRequested => Some(stopRequested(e, now))
    case e: ControlEvent.StopRefused => Some(stopRefused(e, now))
    case e: ControlEvent.StopFinished => Some(kept(stopFinished(e, now)))
    case e: ControlEvent.StopCancelled => Some(kept(stopCancelled(e, now)))
    case e: ControlEvent.ConfChanged => Some(confChanged(e, now))
    case e: ControlEvent.ManagedTransition => Some(kept(lifecycle(e, now)))
    case _: ControlEvent.QueryRegistered | _: ControlEvent.QueryEnded => None
  }

  private def kept(r: AuditRecord) = AuditEntry(r, sampledAs = None)

  /** Kept when the caller had the token; otherwise sampled under `code`, with the reason among its options. */
  private def refusal(r: AuditRecord, caller: Caller, code: String) =
    if (caller.authenticated) kept(r) else AuditEntry(r.copy(options = r.options + ("reason" -> code)), Some(code))

  def stopRequested(e: ControlEvent.StopRequested, now: Instant): AuditEntry = {
    val request = e.request
    val options = request.timeoutMs.map(t => "timeout" -> s"${t}ms").toMap ++
      Some(request.when).filter(_ != StopCondition.Now).map(w => "when" -> w.text) ++
      Some(request.purpose).filter(_ != StopPurpose.End).map(p => "purpose" -> p.name)
    val (id, name, outcome, mode) = e.outcome match {
      case StopOutcome.Accepted(t, s) => (Some(t.id.toString), t.name, s"accepted: ${s.phase}", Some(s.mode.name))
      case StopOutcome.Pending(t, p) => (Some(t.id.toString), t.name, s"pending: ${p.condition}", Some("graceful"))
      case StopOutcome.AlreadyEnded(q) => (Some(q.id.toString), q.name, "already ended", request.mode.map(_.name))
      case StopOutcome.NotFound => (None, Some(e.target), "refused: no such query", request.mode.map(_.name))
      case StopOutcome.Ambiguous(m) => (None, Some(e.target), s"refused: ${m.size} queries have this name", None)
    }
    val refused = e.outcome match {
      case StopOutcome.NotFound | _: StopOutcome.Ambiguous => true
      case _ => false
    }
    val r = AuditRecord(
      seq = 0,
      time = now,
      kind = if (refused) AuditRecord.StopRefused else AuditRecord.StopRequested,
      queryId = id,
      queryName = name.map(SafeText.name),
      source = e.source.name,
      mode = mode,
      options = options,
      client = e.caller.address,
      authenticated = e.caller.authenticated,
      outcome = outcome,
      durationMs = None
    )
    if (refused) refusal(r, e.caller, "not-found") else kept(r)
  }

  def stopRefused(e: ControlEvent.StopRefused, now: Instant): AuditEntry = {
    val r = AuditRecord(
      seq = 0,
      time = now,
      kind = AuditRecord.StopRefused,
      queryId = None,
      queryName = Some(SafeText.name(e.target)),
      source = e.source.name,
      mode = None,
      // A refusal before the door always says why in a word, kept or sampled.
      options = Map("reason" -> e.code),
      client = e.caller.address,
      authenticated = e.caller.authenticated,
      outcome = SafeText.text(s"refused: ${e.why}"),
      durationMs = None
    )
    refusal(r, e.caller, e.code)
  }

  def stopFinished(e: ControlEvent.StopFinished, now: Instant): AuditRecord = {
    val s = e.state
    AuditRecord(
      seq = 0,
      time = now,
      kind = AuditRecord.StopFinished,
      queryId = Some(e.query.id.toString),
      queryName = e.query.name.map(SafeText.name),
      source = s.source.name,
      mode = Some(s.mode.name),
      options = s.detail.map(d => "detail" -> SafeText.text(d)).toMap ++ s.code.map("code" -> _),
      client = None,
      authenticated = false,
      outcome = s.phase.name,
      durationMs = s.completedAt.map(c => c.toEpochMilli - s.requestedAt.toEpochMilli)
    )
  }

  def stopCancelled(e: ControlEvent.StopCancelled, now: Instant): AuditRecord =
    AuditRecord(
      seq = 0,
      time = now,
      kind = AuditRecord.StopCancelled,
      queryId = Some(e.query.id.toString),
      queryName = e.query.name.map(SafeText.name),
      source = e.source.name,
      mode = Some("graceful"),
      options = Map("when" -> SafeText.text(e.was.condition.text)),
      client = e.caller.address,
      authenticated = e.caller.authenticated,
      outcome = "cancelled",
      durationMs = None
    )

  def lifecycle(e: ControlEvent.ManagedTransition, now: Instant): AuditRecord =
    AuditRecord(
      seq = 0,
      time = now,
      kind = AuditRecord.Lifecycle,
      queryId = e.view.queryId.map(_.toString),
      queryName = Some(e.view.name),
      source = e.source.fold("supervisor")(_.name),
      mode = None,
      options = Map("from" -> e.from.name, "state" -> e.view.state.name, "detail" -> SafeText.text(e.why)) ++
        e.view.nextAttemptAt.map(a => "nextAttemptAt" -> a.toString),
      client = e.caller.address,
      authenticated = e.caller.authenticated,
      outcome = s"${e.from.name} -> ${e.view.state.name}",
      durationMs = None
    )

  def confChanged(e: ControlEvent.ConfChanged, now: Instant): AuditEntry = {
    val change = e.change
    val r = AuditRecord(
      seq = 0,
      time = now,
      kind = if (change.refused.isDefined) AuditRecord.ConfRefused else AuditRecord.ConfChanged,
      queryId = None,
      queryName = None,
      source = change.source,
      mode = None,
      options = Map("key" -> SafeText.name(change.key), "op" -> change.op) ++
        change.version.map(v => "version" -> v.toString),
      client = e.caller.address,
      authenticated = e.caller.authenticated,
      outcome = change.refused.map(SafeText.text).getOrElse("ok"),
      durationMs = None
    )
    if (change.refused.isDefined) refusal(r, e.caller, "conf-refused") else kept(r)
  }

  /** What a sampler's window counted but did not record, once the window has passed. */
  def refusalSummary(w: RefusalSampler.Closed): AuditRecord =
    AuditRecord(
      seq = 0,
      time = Instant.ofEpochMilli(w.endsAt),
      kind = AuditRecord.StopRefused,
      queryId = None,
      queryName = None,
      source = w.source,
      mode = None,
      options =
        Map("reason" -> w.code, "count" -> w.more.toString, "since" -> Instant.ofEpochMilli(w.startedAt).toString),
      client = w.client,
      authenticated = false,
      outcome = s"refused ${w.more} more time(s) for the same reason from the same client",
      durationMs = None
    )
}
