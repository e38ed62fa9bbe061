package io.github.stopstreaming.core

import java.time.Instant
import java.util.concurrent.{CompletableFuture, ConcurrentHashMap, Executors, ScheduledFuture, TimeUnit}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** The lifecycle of the queries an application hands over with a recipe ([[QueryRecipe]]): pause, resume, restart and
  * supervised restarts after failures, known by name across runs. Every stop it makes goes through the one door,
  * [[ControlPlane.requestStop]], gracefully and tagged with its purpose; every transition is a [[ControlEvent]] (so an
  * audit record and a metric).
  *
  * All state is changed under this object's lock. A recipe runs outside it: the first run in the caller's thread, every
  * later one on the `managed-start` pool. At most one start of a query is under way at a time (`starting`): whatever
  * asks for a start (a resume, a restart, the end of a back-off), only one claims it, so two runs never start on one
  * checkpoint.
  */
final class ManagedQueries private[core] (
    plane: ControlPlane,
    tell: ControlEvent => Unit,
    defaults: RestartPolicy
) extends ControlPlaneListener {
  import ManagedQueries._

  private val log = LoggerFactory.getLogger(getClass)
  private val byName = new ConcurrentHashMap[String, Managed]()
  private val exec = Executors.newSingleThreadScheduledExecutor(plane.threads.factory("managed"))
  // Recipes run here, apart from the timers and the run checks: a start that hangs holds up no other query.
  private val starts = Executors.newCachedThreadPool(plane.threads.factory("managed-start"))
  @volatile private var closed = false

  // What a change decided under the lock does outside it (stops, cancels, conf writes, which tell listeners and may
  // write a file): guarded by this object's lock, run by `locked` once the lock is released.
  private val effects = scala.collection.mutable.ArrayBuffer.empty[() => Unit]
  private def later(f: => Unit): Unit = effects += (() => f)

  /** Runs `body` under the lock, then the effects it left, outside the lock. Entry points only (never nested). */
  private def locked[T](body: => T): T = {
    val (result, todo) = synchronized {
      try {
        val r = body
        (r, effects.toList)
      } finally effects.clear() // a body that threw leaves nothing for the next caller to run
    }
    todo.foreach(f =>
      try f()
      catch { case NonFatal(e) => log.warn("a managed query's follow-up failed", e) }
    )
    result
  }

  // A run whose end no event announced (one that failed before it was registered, say) is found by this check.
  exec.scheduleWithFixedDelay(() => checkRuns(), CheckEveryMs, CheckEveryMs, TimeUnit.MILLISECONDS)

  private final class Managed(val name: String, val recipe: QueryRecipe, val policy: RestartPolicy) {
    var state: ManagedState = ManagedState.Restarting
    var since: Instant = Instant.now()
    var nextAttemptAt: Option[Instant] = None
    @volatile var run: StreamingQuery = _
    @volatile var tracked: TrackedQuery = _
    var intent: Option[StopPurpose] = None
    // The condition and timeout of a pause asked while a run was starting: applied as the run begins.
    var intentWhen: (StopCondition, Option[Long]) = (StopCondition.Now, None)
    // A recipe is running for this query (claimed under the lock, released when its outcome is taken in).
    var starting = false
    // The latest start asked for: a start asked earlier (a back-off timer that fired as a resume came) is not made.
    var ticket = 0L
    val failures = new java.util.ArrayDeque[Long]()
    var lastError: Option[String] = None
    var runs = 0
    var pausedAt: Option[Long] = None
    var pausedTotal = 0L
    var persisted = false
    var timer: ScheduledFuture[_] = _
    val done = new CompletableFuture[ManagedView]()
    var waiters: List[(ManagedView => Boolean, CompletableFuture[ManagedView])] = Nil

    def view: ManagedView = ManagedView(
      name,
      state,
      since,
      nextAttemptAt,
      Option(run).map(_.id),
      Option(run).map(_.runId),
      runs,
      math.max(0, runs - 1),
      failures.size,
      lastError,
      pausedTotal + pausedAt.fold(0L)(System.currentTimeMillis() - _),
      policy,
      persisted && plane.settings.confFile.isDefined && plane.dynamicConf.get(pauseKey(name)).isDefined
    )
  }

  /** The policy of a query managed without arguments of its own. */
  def defaultPolicy: RestartPolicy = defaults

  /** Starts `name` from `recipe` and manages it from now on; returns its view. A name paused in an earlier run of the
    * application (persisted with the dynamic configuration) is not started: it stays PAUSED until resumed. The first
    * run starts in the caller's thread, and its failure to start is thrown to the caller, nothing managed.
    */
  def manage(name: String, recipe: QueryRecipe, policy: RestartPolicy = defaults): ManagedView = {
    checkName(name).left.foreach(m => throw new ManagedQueryException(m))
    if (closed) throw new ManagedQueryException("the control plane is shutting down; no query is started")
    val m = new Managed(name, recipe, policy)
    val paused = locked {
      Option(byName.get(name)).filterNot(_.state.done).foreach { o =>
        throw new ManagedQueryException(s"'$name' is already managed (${o.state}); a name is managed once at a time")
      }
      byName.put(name, m)
      val paused = plane.dynamicConf.get(pauseKey(name)).isDefined
      if (paused) {
        m.persisted = true
        m.pausedAt = Some(System.currentTimeMillis())
        transition(m, ManagedState.Paused, "paused in an earlier run of the application; resume to start it", None)
      } else m.starting = true
      paused
    }
    if (!paused) {
      var q: StreamingQuery = null
      val t =
        try {
          q = recipe.start()
          if (q == null) throw new ManagedQueryException(s"the recipe of '$name' returned no query")
          plane.register(q)
        } catch {
          case e: Throwable => // whatever it was (a missing connector class too), the name must not stay taken
            if (q != null) stopQuietly(q)
            // Nothing is managed: whoever waits on it is answered, and a pause asked meanwhile does not hold the name.
            locked {
              byName.remove(name, m)
              m.starting = false
              m.intent = None
              m.state = ManagedState.Stopped
              unpersistPause(m, StopSource.Api, Caller.Internal)
              val v = m.view
              m.waiters.foreach(_._2.complete(v))
              m.waiters = Nil
              m.done.complete(v)
            }
            throw e
        }
      locked(began(m, q, t))
    }
    m.view
  }

  private def stopQuietly(q: StreamingQuery): Unit =
    try q.stop()
    catch { case NonFatal(e) => log.warn(s"could not stop query ${q.id} that could not be managed: $e") }

  def views: Seq[ManagedView] = synchronized(byName.values.asScala.toSeq.map(_.view).sortBy(_.name))

  def find(name: String): Option[ManagedView] = synchronized(Option(byName.get(name)).map(_.view))

  /** Completes with the view once the query is done for good (STOPPED, FAILED), or the plane closed. */
  def terminated(name: String): Option[CompletableFuture[ManagedView]] = Option(byName.get(name)).map(_.done)

  /** Completes with the view as soon as `holds` does (at once if it already does). */
  def when(name: String)(holds: ManagedView => Boolean): Option[CompletableFuture[ManagedView]] = synchronized {
    Option(byName.get(name)).map { m =>
      val v = m.view
      // Past MaxWaiters a wait answers at once with the state as it is: waiters cost memory and work per transition.
      if (holds(v) || closed || m.waiters.size >= MaxWaiters) CompletableFuture.completedFuture(v)
      else {
        val f = new CompletableFuture[ManagedView]()
        m.waiters = (holds, f) :: m.waiters
        // However it ends (reached, timed out by its caller), it leaves the list.
        f.whenComplete((_, _) => synchronized { m.waiters = m.waiters.filterNot(_._2 eq f) })
        f
      }
    }
  }

  /** Waits up to `ms` for `holds`; returns the view then, whether it holds or the wait ran out. */
  def await(name: String, ms: Long)(holds: ManagedView => Boolean): Option[ManagedView] =
    Option(byName.get(name)).flatMap { m =>
      when(name)(holds).map { f =>
        try f.orTimeout(ms, TimeUnit.MILLISECONDS).get()
        catch { case _: java.util.concurrent.ExecutionException => () }
        synchronized(m.view) // the query waited on, even if its name has been managed again since
      }
    }

  /** Pauses a running query: a graceful stop (now, or when `when` holds), after which it stays PAUSED. */
  def pause(
      name: String,
      when: StopCondition,
      timeoutMs: Option[Long],
      source: StopSource,
      caller: Caller
  ): ManagedOutcome = act(name, "pause") { m =>
    m.state match {
      case ManagedState.Running =>
        m.intent = Some(StopPurpose.Pause)
        persistPause(m, source, caller)
        transition(m, ManagedState.Pausing, s"pause asked (${when.text})", Some((source, caller)))
        stopRun(m, StopPurpose.Pause, when, timeoutMs, source, caller)
        true
      case ManagedState.Restarting if m.run == null && !m.starting =>
        // A start is asked for but none has begun: it is not made.
        m.intent = None
        persistPause(m, source, caller)
        m.pausedAt = Some(System.currentTimeMillis())
        transition(m, ManagedState.Paused, "paused before its restart began", Some((source, caller)))
        true
      case ManagedState.Restarting =>
        // The old run still ends, or the new one is starting: the run is paused once it ended (or as it began).
        m.intent = Some(StopPurpose.Pause)
        m.intentWhen = (when, timeoutMs)
        persistPause(m, source, caller)
        transition(m, ManagedState.Pausing, "pause asked while restarting", Some((source, caller)))
        true
      case ManagedState.Backoff =>
        cancelTimer(m)
        persistPause(m, source, caller)
        m.pausedAt = Some(System.currentTimeMillis())
        transition(m, ManagedState.Paused, "paused during back-off", Some((source, caller)))
        true
      case _ => false // PAUSING, PAUSED: already
    }
  }

  /** Starts a paused query again from its checkpoint (or takes back a pause whose condition has not yet held). */
  def resume(name: String, source: StopSource, caller: Caller): ManagedOutcome = act(name, "resume") { m =>
    startAgain(m, "resumed", source, caller)
  }

  /** Stops the run gracefully (now, or when `when` holds) and starts it again: the way to apply new dynamic values or
    * new code-level options without restarting the application. A paused or backing-off query starts now.
    */
  def restart(
      name: String,
      when: StopCondition,
      timeoutMs: Option[Long],
      source: StopSource,
      caller: Caller
  ): ManagedOutcome = act(name, "restart") { m =>
    m.state match {
      case ManagedState.Running =>
        m.intent = Some(StopPurpose.Restart)
        transition(m, ManagedState.Restarting, s"restart asked (${when.text})", Some((source, caller)))
        stopRun(m, StopPurpose.Restart, when, timeoutMs, source, caller)
        true
      case ManagedState.Pausing if m.run != null =>
        // The pause (pending, or its stop under way) becomes a restart: the run still ends gracefully, then starts again.
        unpersistPause(m, source, caller)
        m.intent = Some(StopPurpose.Restart)
        transition(m, ManagedState.Restarting, s"restart asked while pausing (${when.text})", Some((source, caller)))
        val t = m.tracked
        if (t != null && t.stop.isEmpty) stopRun(m, StopPurpose.Restart, when, timeoutMs, source, caller)
        true
      case _ => startAgain(m, "restart asked", source, caller)
    }
  }

  /** Ends a managed query for good. A running one gets a graceful stop through the door (and is STOPPED once it ended);
    * one without a run (PAUSED, BACKOFF) is STOPPED at once.
    */
  def stop(name: String, source: StopSource, caller: Caller): ManagedOutcome = act(name, "stop") { m =>
    m.state match {
      case _ if m.run == null && m.starting =>
        // The recipe is running: the run it starts is stopped as it begins.
        m.intent = Some(StopPurpose.End)
        true
      case _ if m.run == null =>
        transition(m, ManagedState.Stopped, "stopped while it had no run", Some((source, caller)))
        true
      case _ =>
        m.intent = Some(StopPurpose.End)
        stopRun(m, StopPurpose.End, StopCondition.Now, None, source, caller)
        true
    }
  }

  /** Asks for a run of `m` (under the lock); it is made on the start pool unless a later ask or a start under way
    * claims it first.
    */
  private def requestStart(m: Managed): Unit = {
    val t = nextTicket(m)
    later(submitStart(m, t))
  }

  private def nextTicket(m: Managed): Long = { m.ticket += 1; m.ticket }

  private def submitStart(m: Managed, ticket: Long): Unit =
    try starts.execute(() => startRun(m, ticket))
    catch { case _: java.util.concurrent.RejectedExecutionException => () } // closed: nothing starts any more

  private def startAgain(m: Managed, why: String, source: StopSource, caller: Caller): Boolean = m.state match {
    case ManagedState.Paused | ManagedState.Backoff =>
      cancelTimer(m)
      unpersistPause(m, source, caller)
      m.intent = None
      transition(m, ManagedState.Restarting, why, Some((source, caller)))
      requestStart(m)
      true
    case ManagedState.Pausing =>
      unpersistPause(m, source, caller)
      val t = m.tracked
      if (m.run != null && t != null && t.stop.isEmpty && t.pending.get != null) {
        // The pause may still wait for its condition: taking it back leaves the run as it is (the cancel's event moves
        // it to RUNNING). If the condition held first, the run is stopping: it starts again once it ended.
        later {
          plane.cancelStop(t.id.toString, source, caller) match {
            case _: CancelOutcome.Cancelled => ()
            case _ =>
              locked {
                if (m.state == ManagedState.Pausing && m.intent.contains(StopPurpose.Pause)) {
                  m.intent = Some(StopPurpose.Restart)
                  transition(m, ManagedState.Restarting, s"$why while pausing: starts once the run ended", None)
                } else if (m.state == ManagedState.Paused) startAgain(m, why, source, caller)
              }
          }
        }
      } else {
        m.intent = Some(StopPurpose.Restart)
        transition(m, ManagedState.Restarting, s"$why while pausing: starts once the run ended", Some((source, caller)))
      }
      true
    case _ => false // RUNNING, RESTARTING
  }

  private def act(name: String, what: String)(body: Managed => Boolean): ManagedOutcome = locked {
    Option(byName.get(name)) match {
      case None => ManagedOutcome.NotFound
      case Some(m) if m.state.done =>
        ManagedOutcome.Conflict(
          m.view,
          s"'$name' is ${m.state} for good; the application must manage it again to $what it"
        )
      case Some(m) if what != "stop" && endingForGood(m) =>
        ManagedOutcome.Conflict(
          m.view,
          s"'$name' is being stopped for good (a stop was asked); to $what it, cancel a pending stop first, or " +
            "manage it again once it stopped"
        )
      case Some(m) =>
        val changed = body(m)
        ManagedOutcome.Accepted(m.view, changed)
    }
  }

  /** A stop on purpose is under way, or waits for its condition: nothing but the end may follow. */
  private def endingForGood(m: Managed): Boolean =
    m.intent.contains(StopPurpose.End) || {
      val t = m.tracked
      m.run != null && t != null && Option(t.pending.get).exists(_.purpose == StopPurpose.End)
    }

  private def stopRun(
      m: Managed,
      purpose: StopPurpose,
      when: StopCondition,
      timeoutMs: Option[Long],
      source: StopSource,
      caller: Caller
  ): Unit =
    if (m.run != null) {
      // A pause or restart never escalates unless asked to (timeout=): an escalated stop would run its batch again.
      val timeout = if (purpose == StopPurpose.End) timeoutMs else timeoutMs.orElse(Some(0L))
      val req = StopRequest(Some(StopMode.Graceful), timeout, when, purpose)
      val id = m.run.id.toString
      later(plane.requestStop(id, req, source, caller))
    }

  // ---- runs starting and ending ----

  /** A run has started (`q`): it is watched from now on; an intent that came while it was starting applies now. */
  private def began(m: Managed, q: StreamingQuery, t: TrackedQuery): Unit = {
    m.starting = false
    if (closed) m.intent = Some(StopPurpose.End) // started as the driver went down: it ends with it
    m.run = q
    m.runs += 1
    m.nextAttemptAt = None
    m.tracked = t
    if (Option(q.name).exists(_ != m.name))
      log.warn(s"managed query '${m.name}' started a query named '${q.name}'; name it '${m.name}' (queryName)")
    m.intent match {
      case Some(purpose) =>
        val (source, caller) = (StopSource.Api, Caller.Internal)
        val (when, timeoutMs) = if (purpose == StopPurpose.Pause) m.intentWhen else (StopCondition.Now, None)
        m.intentWhen = (StopCondition.Now, None)
        if (purpose == StopPurpose.Restart) m.intent = None
        else stopRun(m, purpose, when, timeoutMs, source, caller)
        if (m.intent.isEmpty) transition(m, ManagedState.Running, s"run ${m.runs} started", None)
        else label(m)
      case None =>
        transition(m, ManagedState.Running, s"run ${m.runs} started", None)
    }
  }

  private def startRun(m: Managed, ticket: Long): Unit = {
    val go = locked {
      if (closed || m.starting || m.run != null || ticket != m.ticket) false
      else if (m.state != ManagedState.Restarting && m.state != ManagedState.Backoff) false
      else if (m.intent.contains(StopPurpose.End)) {
        transition(m, ManagedState.Stopped, "stopped on request before its restart began", None); false
      } else if (m.intent.contains(StopPurpose.Pause)) {
        m.intent = None
        m.pausedAt = Some(System.currentTimeMillis())
        transition(m, ManagedState.Paused, "paused before its restart began", None); false
      } else {
        if (m.state == ManagedState.Backoff) transition(m, ManagedState.Restarting, "back-off over; starting", None)
        m.timer = null
        m.starting = true
        true
      }
    }
    if (go) {
      // Whatever the recipe throws is its failure (a missing connector class too); an error of the JVM itself is
      // thrown on once the outcome is taken in, so the query never stays marked as starting.
      var fatal: Throwable = null
      val started =
        try Option(m.recipe.start()).toRight("the recipe returned no query")
        catch {
          case e: InterruptedException => Left(s"interrupted while starting: ${e.getMessage}")
          case e: Throwable =>
            if (!NonFatal(e) && !e.isInstanceOf[LinkageError]) fatal = e
            Left(TrackedQuery.shortMessage(e))
        }
      // A recipe that started the query and then failed (a bad return value, a bridge error) left a run behind: it is
      // adopted rather than started a second time on the same checkpoint.
      val run = started match {
        case Right(q) => Some(q)
        case Left(err) =>
          val orphan = plane.sessions.activeNamed(m.name).headOption
          orphan.foreach(_ => log.warn(s"managed query '${m.name}': the recipe failed ($err) but its query runs; kept"))
          orphan
      }
      val tracked =
        try run.map(q => Right(plane.register(q)))
        catch {
          case NonFatal(e) =>
            run.foreach(stopQuietly) // not watched, so not supervised: it must not run on
            Some(Left(TrackedQuery.shortMessage(e)))
        }
      locked {
        m.starting = false
        (run, tracked, started) match {
          case (Some(q), Some(Right(t)), _) => began(m, q, t)
          case (_, Some(Left(err)), _) => failed(m, s"the started query could not be watched: $err")
          case (_, _, Left(err)) => failed(m, s"the recipe failed to start the query: $err")
          case _ => ()
        }
      }
      if (fatal != null) throw fatal
    }
  }

  /** A run ended: what comes next depends on why. */
  private def runEnded(m: Managed, q: StreamingQuery): Unit = locked {
    if (m.run eq q) {
      val err =
        try q.exception.map(TrackedQuery.shortMessage)
        catch { case NonFatal(_) => None }
      m.run = null
      val intent = m.intent
      m.intent = None
      intent match {
        case Some(StopPurpose.Pause) =>
          m.pausedAt = Some(System.currentTimeMillis())
          err.foreach(e => m.lastError = Some(e))
          val why = err.fold("paused; the last batch committed")(e => s"paused; the run failed as it paused: $e")
          transition(m, ManagedState.Paused, why, None)
        case Some(StopPurpose.Restart) =>
          transition(m, ManagedState.Restarting, "run ended; starting again", None)
          requestStart(m)
        case Some(StopPurpose.End) =>
          transition(m, ManagedState.Stopped, "stopped on request", None)
        case None =>
          err match {
            case Some(e) => failed(m, e)
            case None if closed => transition(m, ManagedState.Stopped, "stopped as the driver shut down", None)
            case None => transition(m, ManagedState.Stopped, "the query was stopped by its application", None)
          }
      }
    }
  }

  private def failed(m: Managed, err: String): Unit = {
    val now = System.currentTimeMillis()
    m.failures.addLast(now)
    while (!m.failures.isEmpty && m.failures.peekFirst() < now - m.policy.windowMs) m.failures.removeFirst()
    m.lastError = Some(err)
    m.run = null
    val n = m.failures.size
    val intent = m.intent
    m.intent = None
    if (intent.contains(StopPurpose.Pause)) {
      // Paused while the start failed: it stays paused, and the failure is on record.
      m.pausedAt = Some(System.currentTimeMillis())
      transition(m, ManagedState.Paused, s"paused; the start failed meanwhile: $err", None)
    } else if (intent.contains(StopPurpose.End))
      transition(m, ManagedState.Stopped, s"stopped on request; the start failed meanwhile: $err", None)
    else if (closed) transition(m, ManagedState.Stopped, s"failed as the driver shut down: $err", None)
    else if (n > m.policy.maxRestarts)
      transition(m, ManagedState.Failed, s"failure $n within ${m.policy.windowMs / 1000}s, over the limit: $err", None)
    else {
      val delay = m.policy.delayMs(n)
      m.nextAttemptAt = Some(Instant.ofEpochMilli(now + delay))
      transition(m, ManagedState.Backoff, s"failure $n; restart in ${delay}ms: $err", None)
      val t = nextTicket(m)
      try m.timer = exec.schedule((() => submitStart(m, t)): Runnable, delay, TimeUnit.MILLISECONDS)
      catch {
        case _: java.util.concurrent.RejectedExecutionException =>
          transition(m, ManagedState.Stopped, s"failed as the driver shut down: $err", None)
      }
    }
  }

  /** Runs `r` on the managed thread; false once that thread is gone (the plane closed). */
  private def submit(r: Runnable): Boolean =
    try { exec.execute(r); true }
    catch { case _: java.util.concurrent.RejectedExecutionException => false }

  private def checkRuns(): Unit =
    try
      byName.values.asScala.foreach { m =>
        // The thread, not isActive: a draining query is marked TERMINATED while its last batch still commits.
        val (q, t) = (m.run, m.tracked)
        if (q != null && t != null && (t.query eq q) && !t.isRunning && !stopUnderWay(t)) runEnded(m, q)
      }
    catch { case NonFatal(e) => log.warn("checking the managed queries failed", e) }

  /** A stop of ours ends a run only once it finished, a moment after the query thread: it then writes the last batches'
    * offsets and commit that async progress tracking held in memory, and the last-run record. The next run of a restart
    * or a back-off must not start on the checkpoint before that (two runs' batches in one log).
    */
  private def stopUnderWay(t: TrackedQuery): Boolean = t.stop.isDefined && !t.stopDone.isDone

  private def whenStopSettled(m: Managed)(f: => Unit): Unit = {
    val t = m.tracked
    if (t != null && stopUnderWay(t))
      t.stopDone.copy().orTimeout(ManagedQueries.StopSettleMaxMs, TimeUnit.MILLISECONDS).whenComplete((_, _) => f)
    else f
  }

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.QueryEnded(e) =>
      byName.values.asScala.iterator
        .map(m => (m, m.tracked))
        .collectFirst { case (m, t) if t != null && t.runId == e.runId => (m, t.query) }
        .foreach { case (m, q) => whenStopSettled(m)(if (!submit(() => runEnded(m, q))) runEnded(m, q)) }
    case ControlEvent.StopRequested(_, request, source, _, StopOutcome.Accepted(t, _))
        if request.purpose == StopPurpose.End =>
      // A stop carried out on purpose ends the managed query for good, whatever was planned for it; only the driver's
      // shutdown leaves a pause as it was (it is kept, and holds when the application comes back). The lock is taken
      // only for a managed run: stops of other queries never wait for it.
      ofRun(t).foreach { m =>
        locked {
          if (m.tracked eq t) {
            if (!(source == StopSource.Shutdown && m.intent.contains(StopPurpose.Pause)))
              m.intent = Some(StopPurpose.End)
          }
        }
      }
    case ControlEvent.StopCancelled(t, _, source, caller) =>
      ofRun(t).foreach { m =>
        locked {
          if ((m.tracked eq t) && m.intent.exists(_ != StopPurpose.End)) {
            m.intent = None
            if (m.state == ManagedState.Pausing || m.state == ManagedState.Restarting) {
              unpersistPause(m, source, caller)
              transition(m, ManagedState.Running, "the pending pause or restart was cancelled", Some((source, caller)))
            }
          } else if (m.tracked eq t) m.intent = None
        }
      }
    case _ => ()
  }

  private def ofRun(t: TrackedQuery): Option[Managed] =
    byName.values.asScala.find(m => m.tracked != null && m.tracked.runId == t.runId && m.run != null)

  // ---- state, waiters, persistence ----

  private def transition(m: Managed, to: ManagedState, why: String, by: Option[(StopSource, Caller)]): Unit = {
    val from = m.state
    if (from == ManagedState.Paused && to != ManagedState.Paused)
      m.pausedAt.foreach { p => m.pausedTotal += System.currentTimeMillis() - p; m.pausedAt = None }
    m.state = to
    if (from != to) m.since = Instant.now()
    if (to.done) {
      cancelTimer(m)
      // On the driver's shutdown a pause is kept: it holds when the application manages the name again.
      if (m.persisted && !closed) unpersistPause(m, StopSource.Api, Caller.Internal)
    }
    label(m)
    val v = m.view
    // A move within a state (the old run of a restart ended, the new one starts) is no transition.
    if (from != to)
      tell(ControlEvent.ManagedTransition(v, from, why, by.map(_._1), by.map(_._2).getOrElse(Caller.Internal)))
    else log.info(s"managed query '${m.name}' ($to): $why")
    val (ready, waiting) = m.waiters.partition(_._1(v))
    m.waiters = waiting
    ready.foreach(_._2.complete(v))
    if (to.done) m.done.complete(v)
  }

  private def label(m: Managed): Unit = if (m.tracked != null) m.tracked.lifecycle = m.state.name

  private def cancelTimer(m: Managed): Unit = {
    if (m.timer != null) m.timer.cancel(false)
    m.timer = null
    m.nextAttemptAt = None
  }

  // Written outside the lock (a conf file may be on a slow file system), one write at a time and always the latest
  // wish: a pause and a resume asked from two threads at once cannot leave the key as the earlier of the two wanted.
  private val persisting = new Object

  private def persistPause(m: Managed, source: StopSource, caller: Caller): Unit = {
    m.persisted = true
    later(syncPause(m, source, caller))
  }

  private def unpersistPause(m: Managed, source: StopSource, caller: Caller): Unit =
    if (m.persisted) {
      m.persisted = false
      later(syncPause(m, source, caller))
    }

  private def syncPause(m: Managed, source: StopSource, caller: Caller): Unit = persisting.synchronized {
    val name = m.name
    // The wish of whatever query holds the name now: a write queued for an earlier query of that name decides nothing.
    val want = synchronized(Option(byName.get(name)).exists(_.persisted))
    val has = plane.dynamicConf.get(pauseKey(name)).isDefined
    try {
      if (want && !has) {
        plane.setConf(pauseKey(name), Instant.now().toString, None, SourcePrefix + source.name, caller)
        if (plane.settings.confFile.isEmpty)
          log.warn(
            s"managed query '$name' is paused in memory only: set ${Settings.ConfFile.fullKey} for a pause " +
              "that survives a restart of the driver"
          )
      } else if (!want && has) plane.unsetConf(pauseKey(name), None, SourcePrefix + source.name, caller)
    } catch {
      case NonFatal(e) =>
        log.warn(s"the pause of managed query '$name' could not be ${if (want) "persisted" else "removed"}: $e")
    }
  }

  /** No query is started from now on (the driver shuts down); waiters are answered with the state as it is. */
  def close(): Unit = {
    closed = true
    val all = synchronized {
      byName.values.asScala.toList.map { m =>
        cancelTimer(m)
        m.waiters.foreach(_._2.complete(m.view))
        m.waiters = Nil
        m
      }
    }
    exec.shutdownNow()
    starts.shutdownNow()
    all.foreach(m => m.done.complete(synchronized(m.view)))
  }

  /** Called first thing on JVM shutdown: nothing is started again, so the drain that follows ends every run for good.
    */
  def shuttingDown(): Unit = locked {
    closed = true
    byName.values.asScala.filter(_.state == ManagedState.Backoff).foreach { m =>
      transition(m, ManagedState.Stopped, "the driver shuts down during a back-off; not restarted", None)
    }
  }
}

object ManagedQueries {
  private val CheckEveryMs = 1000L

  /** How long the end of a run waits for its stop to finish writing before the managed query moves on regardless. */
  private val StopSettleMaxMs = 60 * 1000L
  private val MaxWaiters = 64

  /** The state a verb leads to, reached (or gone past: a failure, a stop) for the answer of a `wait=`. */
  def reached(verb: String, runsBefore: Int): ManagedView => Boolean = verb match {
    case "pause" => v => v.state == ManagedState.Paused || v.state.done
    case "stop" => _.state.done
    // A resume that took back a pending pause leaves the same run RUNNING: reached too.
    case "resume" =>
      v => v.state == ManagedState.Running || v.state == ManagedState.Backoff || v.state.done
    case _ =>
      v =>
        (v.state == ManagedState.Running && v.runs > runsBefore) || v.state == ManagedState.Backoff ||
          v.state == ManagedState.Paused || v.state.done
  }

  /** The dynamic-configuration keys of persisted pauses; only the managed queries change them. */
  val PausePrefix = "stopstreaming.paused."

  /** The source of the conf changes the managed queries make (`managed-rest`, ...). */
  val SourcePrefix = "managed-"
  private val NamePattern = "[A-Za-z0-9][A-Za-z0-9._-]{0,199}"

  /** The dynamic-configuration key that holds a persisted pause. */
  def pauseKey(name: String): String = PausePrefix + name

  def checkName(name: String): Either[String, String] =
    if (name != null && name.matches(NamePattern)) Right(name)
    else Left(s"managed query name '${SafeText.name(String.valueOf(name))}' must be 1-200 of A-Z a-z 0-9 . _ -")
}
