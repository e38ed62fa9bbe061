package io.github.stopstreaming.core

import java.util.concurrent.{
  ConcurrentHashMap,
  Executors,
  LinkedBlockingQueue,
  ScheduledFuture,
  ThreadPoolExecutor,
  TimeUnit
}

import scala.util.control.NonFatal

import org.slf4j.LoggerFactory

/** Carries out stops. Graceful: tell the query to start no new batch (see [[StreamInternals]]), then watch it on one
  * shared scheduler thread: it ends by itself after its batch, or it is interrupted once it is seen asleep between
  * triggers (nothing is lost then), or the timeout escalates it to an immediate stop. The blocking
  * `StreamingQuery.stop()` calls run on a small pool whose threads die when idle, so the thread count never follows the
  * query count.
  */
final class Stopper(threads: NamedThreads, onFinished: (StopTarget, StopState) => Unit = (_, _) => ()) {
  private val log = LoggerFactory.getLogger(getClass)
  // Short enough to catch the sink stage of quick batches, which is when a query may be marked.
  private val CheckEveryMs = 5L

  private val scheduler = Executors.newSingleThreadScheduledExecutor(threads.factory("stopper"))
  private val blocking = {
    val p = new ThreadPoolExecutor(
      16,
      16,
      30,
      TimeUnit.SECONDS,
      new LinkedBlockingQueue[Runnable](),
      threads.factory("stop-call")
    )
    p.allowCoreThreadTimeOut(true)
    p
  }
  private val watches = new ConcurrentHashMap[StopTarget, ScheduledFuture[_]]()

  /** Asks for a stop. The first request wins and is carried out once; a later one returns the same state, except that
    * an immediate request overrides a graceful stop still draining.
    */
  def request(
      t: StopTarget,
      mode: StopMode,
      timeoutMs: Long,
      source: StopSource,
      firedBy: StopCondition = StopCondition.Now,
      purpose: StopPurpose = StopPurpose.End
  ): StopState = {
    val req =
      StopState(StopPhase.Requested, mode, source, timeoutMs, java.time.Instant.now(), None, None, firedBy, purpose)
    if (t.stopState.compareAndSet(null, req)) {
      log.info(
        s"stop of query ${t.id} (${t.name.getOrElse("unnamed")}) requested: mode=$mode, " +
          s"timeout=${timeoutMs}ms, source=$source"
      )
      try begin(t, req)
      catch { case NonFatal(e) => finish(t, StopPhase.Failed, Some(s"stop could not start: ${e.getMessage}")) }
    } else {
      val current = t.stopState.get
      if (mode == StopMode.Immediate && current.mode == StopMode.Graceful && !current.phase.done) {
        escalate(t, s"immediate stop requested by $source while draining")
      }
    }
    t.stopState.get
  }

  private def begin(t: StopTarget, req: StopState): Unit = {
    if (!t.isRunning) {
      finish(t, StopPhase.Stopped, Some("the query had already ended"))
    } else if (req.mode == StopMode.Immediate) {
      update(t, StopPhase.Draining, None)
      stopNow(t, StopPhase.Stopped, None)
    } else if (t.isContinuous) {
      update(
        t,
        StopPhase.Draining,
        Some("continuous processing has no batch boundary: stopped immediately"),
        Some(StopCodes.ContinuousNoBatchBoundary)
      )
      stopNow(t, StopPhase.Stopped, None)
    } else if (t.supportsGracefulStop) {
      update(t, StopPhase.Draining, None)
      watch(t, new Drain(usesInternals = true))
    } else {
      update(
        t,
        StopPhase.Draining,
        Some("fallback: this Spark hides the query state, so the stop waits for no active trigger")
      )
      watch(t, new Drain(usesInternals = false))
    }
  }

  /** The progress of one graceful stop: whether the query was already told to start no new batch. */
  private final class Drain(val usesInternals: Boolean) {
    @volatile var marked = false
  }

  private def watch(t: StopTarget, d: Drain): Unit = {
    val task: Runnable = () => Guarded.run(log, s"stop watch of query ${t.id}")(check(t, d))
    watches.put(t, scheduler.scheduleWithFixedDelay(task, 0, CheckEveryMs, TimeUnit.MILLISECONDS))
  }

  private def unwatch(t: StopTarget): Unit = Option(watches.remove(t)).foreach(_.cancel(false))

  /** One look at a draining query: it ended; or it sleeps between triggers, so interrupting it loses nothing; or (once)
    * it is at a moment where it can be told to start no new batch without Spark dropping the batch in flight; or the
    * timeout has come.
    */
  private def check(t: StopTarget, d: Drain): Unit = {
    val s = t.stopState.get
    if (s.phase.done || s.phase != StopPhase.Draining) { unwatch(t); return }
    if (!t.isRunning) {
      unwatch(t)
      blocking.execute(() => afterEnd(t, StopPhase.Stopped, None))
    } else if (t.isWaitingForNextTrigger) {
      unwatch(t)
      // Marked first: a trigger that fires between this look and the interrupt then starts no batch to be cut.
      if (d.usesInternals && !d.marked) d.marked = t.markTerminated()
      // Only a marked query may be woken early: Spark treats an interrupt as a stop only once the state says so.
      stopNow(t, StopPhase.Stopped, None, idle = d.marked)
    } else if (d.usesInternals && !d.marked && t.isSafeToMarkTerminated) {
      d.marked = t.markTerminated()
    } else if (!d.usesInternals && !t.triggerActive) {
      unwatch(t)
      stopNow(t, StopPhase.Stopped, None)
    } else if (s.timeoutMs > 0 && System.currentTimeMillis() - s.requestedAt.toEpochMilli >= s.timeoutMs) {
      escalate(t, s"graceful stop did not finish within ${s.timeoutMs}ms")
    }
  }

  private def escalate(t: StopTarget, why: String): Unit = {
    unwatch(t)
    log.warn(s"query ${t.id}: $why; stopping it immediately (the batch in flight will run again on restart)")
    update(t, StopPhase.Draining, Some(why), Some(StopCodes.GracefulTimedOut))
    stopNow(t, StopPhase.Escalated, Some(why))
  }

  /** `StreamingQuery.stop()` on the pool; it blocks until the query thread has ended. */
  private def stopNow(t: StopTarget, done: StopPhase, note: Option[String], idle: Boolean = false): Unit =
    blocking.execute { () =>
      val ended =
        try { t.stopNow(idle); true }
        catch {
          case NonFatal(e) =>
            finish(t, StopPhase.Failed, Some(s"StreamingQuery.stop() failed: ${e.getMessage}"))
            false
        }
      if (ended) afterEnd(t, done, note)
    }

  /** The query thread has ended (the stop ends with it): where Spark keeps the offsets and commit of the last batches
    * in memory only (async progress tracking), they are written now, before anyone is told the stop is over; a stop
    * that cannot make them durable says so with [[ProgressFlush.UnflushedCode]], whatever its mode.
    */
  private def afterEnd(t: StopTarget, done: StopPhase, note: Option[String]): Unit = {
    val flushed =
      try t.flushProgress()
      catch { case NonFatal(e) => ProgressFlush.Unflushed(s"${e.getClass.getSimpleName}: ${e.getMessage}") }
    flushed match {
      case ProgressFlush.Unflushed(why) =>
        val msg = "the offsets and commit of the last batch are not on storage, so a restart runs again the " +
          s"batches since the last one there: $why"
        log.warn(s"query ${t.id}: $msg")
        finish(t, done, Some(note.fold(msg)(n => s"$n; $msg")), Some(ProgressFlush.UnflushedCode))
      case _ => finish(t, done, note)
    }
  }

  private def update(t: StopTarget, phase: StopPhase, note: Option[String], code: Option[String] = None): Unit = {
    var s = t.stopState.get
    while (!s.phase.done && !t.stopState.compareAndSet(s, s.next(phase, note, code))) s = t.stopState.get
  }

  private def finish(t: StopTarget, phase: StopPhase, note: Option[String], code: Option[String] = None): Unit = {
    update(t, phase, note, code)
    val s = t.stopState.get
    // The observer hears of the end before any waiter wakes up, and only once.
    if (s.phase.done) t.synchronized {
      if (!t.stopDone.isDone) {
        log.info(s"query ${t.id}: stop ${s.phase}")
        Guarded.run(log, s"stop observer of query ${t.id}")(onFinished(t, s))
        t.stopDone.complete(s)
      }
    }
  }

  /** Waits up to `ms` for the query's stop to finish; returns whether it did. */
  def await(t: StopTarget, ms: Long): Boolean =
    try { t.stopDone.get(ms, TimeUnit.MILLISECONDS); true }
    catch { case _: java.util.concurrent.TimeoutException => false }

  def close(): Unit = {
    scheduler.shutdownNow()
    blocking.shutdown()
  }
}
