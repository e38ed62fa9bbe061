package io.github.stopstreaming.core

import java.util.UUID
import java.util.concurrent.{CompletableFuture, CopyOnWriteArrayList}

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** What happens at the control plane's door, as one sealed family: a listener matches the events it cares for. */
sealed trait ControlEvent

object ControlEvent {

  /** A query was registered (once per run). */
  final case class QueryRegistered(query: TrackedQuery) extends ControlEvent

  /** A run of a query ended (its termination event came, or its thread was seen gone). */
  final case class QueryEnded(query: EndedQuery) extends ControlEvent

  /** A stop request came through the door, whatever became of it. */
  final case class StopRequested(
      target: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller,
      outcome: StopOutcome
  ) extends ControlEvent

  /** A stop request was refused before it could reach the door (no token, a foreign web origin); `code` names the
    * reason in a word (`unauthorized`, `forbidden-origin`, ...), `why` says it in full.
    */
  final case class StopRefused(target: String, source: StopSource, caller: Caller, code: String, why: String)
      extends ControlEvent

  /** A change of the dynamic configuration came through the door, made or refused. */
  final case class ConfChanged(change: ConfChange, caller: Caller) extends ControlEvent

  /** A pending conditional stop was cancelled (`was` is what it waited for). */
  final case class StopCancelled(query: TrackedQuery, was: PendingStop, source: StopSource, caller: Caller)
      extends ControlEvent

  /** A stop finished: STOPPED, ESCALATED or FAILED. */
  final case class StopFinished(query: StopTarget, state: StopState) extends ControlEvent

  /** A managed query moved from `from` to `view.state`; `source` and `caller` are set when a request moved it (None for
    * the supervisor's own moves: a run that ended, a back-off that ran out).
    */
  final case class ManagedTransition(
      view: ManagedView,
      from: ManagedState,
      why: String,
      source: Option[StopSource],
      caller: Caller
  ) extends ControlEvent
}

/** Told of every [[ControlEvent]]; metrics, audit records and the stop-directory adapter listen here. A listener that
  * throws is logged and ignored.
  */
trait ControlPlaneListener {
  def on(event: ControlEvent): Unit
}

/** The control plane of one driver JVM, without any transport: the query registry, the stop engine and the dynamic
  * configuration store. Every way of stopping a query (HTTP, stop files, JVM shutdown, the Scala and Python APIs) is a
  * signal source that ends in [[requestStop]], the one door, where every request is also seen by the listeners.
  */
final class ControlPlane(val settings: ControlSettings, val dynamicConf: DynamicConfStore) {
  private val log = LoggerFactory.getLogger(getClass)
  private val listeners = new CopyOnWriteArrayList[ControlPlaneListener]()

  val threads = new NamedThreads
  val sessions = new SessionRegistry
  val registry = new QueryRegistry(settings.retainTerminated, e => tell(ControlEvent.QueryEnded(e)))
  private[core] val stopper = new Stopper(threads, (t, s) => tell(ControlEvent.StopFinished(t, s)))
  private[core] val conditions = new ConditionWatcher(threads, (t, p) => conditionMet(t, p))

  /** The queries handed over with a recipe: pause, resume, restart, supervised restarts. */
  val managed = new ManagedQueries(this, tell, settings.restartPolicy)

  /** Every stop request, outcome and configuration change, the latest 1,000 kept. */
  val audit = new AuditLog(ControlPlane.AuditCapacity)
  listeners.add(audit)

  listeners.add(managed)

  def addListener(l: ControlPlaneListener): Unit = listeners.add(l)

  private def tell(event: ControlEvent): Unit =
    listeners.asScala.foreach(l => Guarded.run(log, s"control plane listener ${l.getClass.getSimpleName}")(l.on(event)))

  /** Registers a running query (idempotent per run). */
  def register(query: StreamingQuery): TrackedQuery = {
    val (t, fresh) = registry.register(query)
    if (fresh) tell(ControlEvent.QueryRegistered(t))
    t
  }

  /** A query started in some session of this driver; with auto-registration on, it is found and registered. */
  def onQueryStarted(id: UUID, runId: UUID): Unit =
    if (settings.autoRegister) {
      sessions.findQuery(id) match {
        case Some(q) if q.runId == runId => register(q)
        case _ => log.warn(s"query $id started but was not found in any known session; it is not registered")
      }
    }

  def onQueryTerminated(id: UUID, runId: UUID, exception: Option[String]): Unit =
    registry.markEnded(id, runId, exception.map(TrackedQuery.shorten))

  /** The one door of every stop. Mode and timeout default to the configured ones; repeated or concurrent requests for
    * one query make one stop (an immediate request overrides a graceful stop that is still draining). A request with a
    * condition (`when`) leaves the query running with a PENDING stop that replaces any earlier pending one; a request
    * without one clears it.
    */
  def requestStop(
      idOrName: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller = Caller.Internal
  ): StopOutcome = door(idOrName, request, source, caller, StopCondition.Now)

  /** [[requestStop]], with the condition that made the request (a pending stop's, once it held). */
  private def door(
      idOrName: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller,
      firedBy: StopCondition
  ): StopOutcome = {
    val outcome = registry.lookup(idOrName) match {
      case Lookup.Running(t) =>
        val timeout = request.timeoutMs.getOrElse(settings.stopTimeoutMs)
        if (request.when == StopCondition.Now || t.stop.isDefined) {
          val replaced = Option(t.pending.getAndSet(null))
          // A request with a condition is always graceful (an immediate one takes none): while another stop drains, it
          // must not take the configured mode, which may be immediate, and cut the batch in flight.
          val mode =
            request.mode.getOrElse(if (request.when == StopCondition.Now) settings.stopMode else StopMode.Graceful)
          val state = stopper.request(t, mode, timeout, source, firedBy, request.purpose)
          // Whoever waited for the pending stop now waits for this one: it ends the query all the same.
          replaced.foreach(_.settleAfter(t))
          StopOutcome.Accepted(t, state)
        } else {
          val p = PendingStop(request.when, timeout, source, caller, java.time.Instant.now(), request.purpose)
          Option(t.pending.getAndSet(p)).foreach(_.settleAfter(t))
          conditions.watch(t)
          StopOutcome.Pending(t, p)
        }
      case Lookup.Ended(e) => StopOutcome.AlreadyEnded(e)
      case Lookup.NotFound => StopOutcome.NotFound
      case Lookup.Ambiguous(matches) => StopOutcome.Ambiguous(matches)
    }
    tell(ControlEvent.StopRequested(idOrName, request, source, caller, outcome))
    outcome
  }

  /** A pending stop's condition held: it becomes a graceful stop through the door, on behalf of its first caller. */
  private def conditionMet(t: StopTarget, p: PendingStop): Unit = {
    // The stop keeps the purpose it was asked with: a conditional pause is still a pause once its condition held.
    val req = StopRequest(Some(StopMode.Graceful), Some(p.timeoutMs), StopCondition.Now, p.purpose)
    try
      door(t.id.toString, req, p.source, p.caller, p.condition) match {
        case StopOutcome.Accepted(q, _) =>
          var s = q.stopState.get
          val note = Some(s"condition ${p.condition} met")
          while (s != null && s.detail.isEmpty && !q.stopState.compareAndSet(s, s.copy(detail = note)))
            s = q.stopState.get
        case _ => ()
      }
    finally p.settleAfter(t)
  }

  /** Completes when what `outcome` started has settled: an accepted stop has finished, a pending one has fired and
    * finished (or was cancelled, replaced, or its query ended); at once for the other outcomes. Never fails.
    */
  def settled(outcome: StopOutcome): CompletableFuture[Unit] = outcome match {
    case StopOutcome.Accepted(t, _) => t.stopDone.handle((_, _) => ())
    case StopOutcome.Pending(_, p) => p.settled
    case _ => CompletableFuture.completedFuture(())
  }

  /** Cancels a pending conditional stop; a stop already under way cannot be taken back. */
  def cancelStop(idOrName: String, source: StopSource, caller: Caller = Caller.Internal): CancelOutcome =
    registry.lookup(idOrName) match {
      case Lookup.Running(t) =>
        val p = t.pending.getAndSet(null)
        if (p == null) CancelOutcome.NothingPending(t)
        else {
          p.settleAfter(t)
          tell(ControlEvent.StopCancelled(t, p, source, caller))
          CancelOutcome.Cancelled(t, p)
        }
      case Lookup.Ended(e) => CancelOutcome.AlreadyEnded(e)
      case Lookup.NotFound => CancelOutcome.NotFound
      case Lookup.Ambiguous(matches) => CancelOutcome.Ambiguous(matches)
    }

  /** Records a stop request that an adapter refused before the door (no token, a foreign origin). */
  def refusedStop(target: String, source: StopSource, caller: Caller, code: String, why: String): Unit =
    tell(ControlEvent.StopRefused(target, source, caller, code, why))

  /** The door of every change of the dynamic configuration: sets `key` (with the store's compare-and-set rule). */
  def setConf(key: String, value: String, ifVersion: Option[Long], source: String, caller: Caller): ConfEntry =
    confDoor(key, "set", source, caller) {
      val e = dynamicConf.put(key, value, ifVersion)
      (e, e.version)
    }

  /** Removes `key`; None when it was not set. */
  def unsetConf(key: String, ifVersion: Option[Long], source: String, caller: Caller): Option[ConfEntry] =
    confDoor(key, "unset", source, caller) {
      dynamicConf.deleteAt(key, ifVersion) match {
        case Some((old, published)) => (Some(old), published)
        case None => (None, dynamicConf.version) // nothing removed, nothing published
      }
    }

  /** Records a change with the version it published itself: the store's current version may already be a concurrent
    * writer's, whose own change would then be missing from the trail.
    */
  private def confDoor[T](key: String, op: String, source: String, caller: Caller)(body: => (T, Long)): T =
    try {
      if (key.startsWith(ManagedQueries.PausePrefix) && !source.startsWith(ManagedQueries.SourcePrefix))
        throw new ConfChangeException(ConfRejection.Reserved(key))
      val (result, version) = body
      tell(ControlEvent.ConfChanged(ConfChange(key, op, Some(version), None, source), caller))
      result
    } catch {
      case e: ConfChangeException =>
        tell(ControlEvent.ConfChanged(ConfChange(key, op, None, Some(e.getMessage), source), caller))
        throw e
    }

  /** Waits up to `ms` for a query's stop to finish; returns whether it did. */
  def awaitStop(t: TrackedQuery, ms: Long): Boolean = stopper.await(t, ms)

  /** After a query ended: waits up to `ms` for its stop, if one was asked, to be recorded as finished, so that an
    * application that stops its SparkContext right after the query ended loses no audit record. True when there is
    * nothing (more) to wait for.
    */
  def awaitStopRecorded(id: UUID, ms: Long): Boolean = {
    val future = registry.lookup(id.toString) match {
      case Lookup.Running(t) if t.stop.isDefined => Some(t.stopDone)
      case Lookup.Ended(e) if e.stop.isDefined => Some(e.stopDone)
      case _ => None
    }
    future.forall { f =>
      try { f.get(ms, java.util.concurrent.TimeUnit.MILLISECONDS); true }
      catch { case _: java.util.concurrent.TimeoutException => false }
    }
  }

  /** How many queries are draining now (a graceful stop requested, not finished). */
  def drainingCount: Int = registry.runningQueries.count(_.stop.exists(s => !s.phase.done))

  def close(): Unit = {
    managed.close()
    conditions.close()
    stopper.close()
    log.info("stopstreaming control plane stopped")
  }
}

object ControlPlane {
  val AuditCapacity = 1000
}
