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

  /** A managed query moved to another state of its life (paused, resumed, restarted, failed, ...). */
  val Lifecycle = "lifecycle"
}

/** The audit trail: every record made at the control plane's door, numbered, and each handed to the sinks (the driver
  * log, Spark's listener bus) as it is made. The latest `capacity` records of what callers did are kept in memory (for
  * `GET /api/v1/events`). Refusals of callers without the token are kept apart, sampled by [[RefusalSampler]] into a
  * ring of their own, so a stranger's flood costs a bounded amount of memory and log lines and never pushes a real
  * action out of the trail. Every text that came from outside is escaped and cut ([[SafeText]]).
  */
final class AuditLog(
    capacity: Int,
    refusalCapacity: Int = AuditLog.RefusalCapacity,
    clock: () => Long = () => System.currentTimeMillis()
) extends ControlPlaneListener {
  private val seq = new AtomicLong()
  private val kept = new java.util.ArrayDeque[AuditRecord]()
  private val refused = new java.util.ArrayDeque[AuditRecord]()
  private val sampler = new RefusalSampler(AuditLog.RefusalWindowMs, AuditLog.RefusalKeys)
  private val sinks = new CopyOnWriteArrayList[AuditRecord => Unit]()

  def addSink(sink: AuditRecord => Unit): Unit = sinks.add(sink)

  /** Records after `since` (a sequence number), oldest first: the actions and the sampled refusals together. */
  def since(since: Long): Seq[AuditRecord] = {
    flushRefusals()
    kept.synchronized {
      (kept.asScala.filter(_.seq > since) ++ refused.asScala.filter(_.seq > since)).toSeq.sortBy(_.seq)
    }
  }

  /** How many records are held in memory (actions, refusals). */
  def sizes: (Int, Int) = kept.synchronized((kept.size, refused.size))

  private def record(make: Long => AuditRecord): Unit = add(kept, capacity, make)

  private def add(ring: java.util.ArrayDeque[AuditRecord], max: Int, make: Long => AuditRecord): Unit = {
    val r = kept.synchronized {
      val r = make(seq.incrementAndGet())
      ring.addLast(r)
      while (ring.size > max) ring.removeFirst()
      r
    }
    sinks.forEach(s => s(r))
  }

  /** A refusal by a caller without the token: the first of its kind (client, reason) in a window is recorded at once,
    * the rest of the window only counted, and the count recorded when the window has passed.
    */
  private def refusal(
      client: Option[String],
      code: String,
      source: String,
      make: (Long, Map[String, String]) => AuditRecord
  ): Unit = {
    flushRefusals()
    if (sampler.admit(client, code, source, clock())) add(refused, refusalCapacity, n => make(n, Map("reason" -> code)))
  }

  private def flushRefusals(): Unit =
    sampler.expired(clock()).foreach { w =>
      add(
        refused,
        refusalCapacity,
        n =>
          AuditRecord(
            n,
            Instant.ofEpochMilli(w.endsAt),
            AuditRecord.StopRefused,
            None,
            None,
            w.source,
            None,
            Map("reason" -> w.code, "count" -> w.more.toString, "since" -> Instant.ofEpochMilli(w.startedAt).toString),
            w.client,
            authenticated = false,
            s"refused ${w.more} more time(s) for the same reason from the same client",
            None
          )
      )
    }

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.StopRequested(target, request, source, caller, outcome) =>
      stopRequested(target, request, source, caller, outcome)
    case ControlEvent.StopRefused(target, source, caller, code, why) => stopRefused(target, source, caller, code, why)
    case ControlEvent.StopFinished(t, s) => stopFinished(t, s)
    case ControlEvent.StopCancelled(t, was, source, caller) => stopCancelled(t, was, source, caller)
    case ControlEvent.ConfChanged(change, caller) => confChanged(change, caller)
    case t: ControlEvent.ManagedTransition => lifecycle(t)
    case _: ControlEvent.QueryRegistered | _: ControlEvent.QueryEnded => ()
  }

  private def stopRequested(
      target: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller,
      outcome: StopOutcome
  ): Unit = {
    val options = request.timeoutMs.map(t => "timeout" -> s"${t}ms").toMap ++
      Some(request.when).filter(_ != StopCondition.Now).map(w => "when" -> w.text) ++
      Some(request.purpose).filter(_ != StopPurpose.End).map(p => "purpose" -> p.name)
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
    def make(n: Long, extra: Map[String, String]) =
      AuditRecord(
        n,
        Instant.now(),
        kind,
        id,
        name.map(SafeText.name),
        source.name,
        mode,
        options ++ extra,
        caller.address,
        caller.authenticated,
        result,
        None
      )
    if (kind == AuditRecord.StopRefused && !caller.authenticated)
      refusal(caller.address, "not-found", source.name, make)
    else record(n => make(n, Map.empty))
  }

  private def stopRefused(target: String, source: StopSource, caller: Caller, code: String, why: String): Unit = {
    def make(n: Long, extra: Map[String, String]) =
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopRefused,
        None,
        Some(SafeText.name(target)),
        source.name,
        None,
        extra,
        caller.address,
        caller.authenticated,
        SafeText.text(s"refused: $why"),
        None
      )
    if (caller.authenticated) record(n => make(n, Map("reason" -> code)))
    else refusal(caller.address, code, source.name, make)
  }

  private def stopFinished(t: StopTarget, s: StopState): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopFinished,
        Some(t.id.toString),
        t.name.map(SafeText.name),
        s.source.name,
        Some(s.mode.name),
        s.detail.map(d => "detail" -> SafeText.text(d)).toMap ++ s.code.map("code" -> _),
        None,
        authenticated = false,
        s.phase.name,
        s.completedAt.map(c => c.toEpochMilli - s.requestedAt.toEpochMilli)
      )
    )

  private def stopCancelled(t: TrackedQuery, was: PendingStop, source: StopSource, caller: Caller): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.StopCancelled,
        Some(t.id.toString),
        t.name.map(SafeText.name),
        source.name,
        Some("graceful"),
        Map("when" -> SafeText.text(was.condition.text)),
        caller.address,
        caller.authenticated,
        "cancelled",
        None
      )
    )

  private def lifecycle(t: ControlEvent.ManagedTransition): Unit =
    record(n =>
      AuditRecord(
        n,
        Instant.now(),
        AuditRecord.Lifecycle,
        t.view.queryId.map(_.toString),
        Some(t.view.name),
        t.source.fold("supervisor")(_.name),
        None,
        Map("from" -> t.from.name, "state" -> t.view.state.name, "detail" -> SafeText.text(t.why)) ++
          t.view.nextAttemptAt.map(a => "nextAttemptAt" -> a.toString),
        t.caller.address,
        t.caller.authenticated,
        s"${t.from.name} -> ${t.view.state.name}",
        None
      )
    )

  private def confChanged(change: ConfChange, caller: Caller): Unit = {
    def make(n: Long, extra: Map[String, String]) =
      AuditRecord(
        n,
        Instant.now(),
        if (change.refused.isDefined) AuditRecord.ConfRefused else AuditRecord.ConfChanged,
        None,
        None,
        change.source,
        None,
        Map("key" -> SafeText.name(change.key), "op" -> change.op) ++ change.version.map(v =>
          "version" -> v.toString
        ) ++
          extra,
        caller.address,
        caller.authenticated,
        change.refused.map(SafeText.text).getOrElse("ok"),
        None
      )
    if (change.refused.isDefined && !caller.authenticated) refusal(caller.address, "conf-refused", change.source, make)
    else record(n => make(n, Map.empty))
  }
}

object AuditLog {

  /** Sampled refusals of callers without the token kept in memory. */
  val RefusalCapacity = 200

  /** One refusal record per client and reason in this window; the rest are counted. */
  val RefusalWindowMs = 60000L

  /** Distinct (client, reason) pairs sampled at once; past that, refusals of new clients share one entry per reason. */
  val RefusalKeys = 256
}

/** A change of the dynamic configuration asked at the door: `op` is `set` or `unset`; `refused` says why not. */
final case class ConfChange(key: String, op: String, version: Option[Long], refused: Option[String], source: String)
