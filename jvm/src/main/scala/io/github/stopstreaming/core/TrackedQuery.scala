package io.github.stopstreaming.core

import java.time.Instant
import java.util.UUID
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

import org.apache.spark.sql.streaming.StreamingQuery

/** A registered, running query: its handle and the state of the one stop it may get. */
final class TrackedQuery(val query: StreamingQuery, val startedAt: Instant) extends StopTarget {
  val id: UUID = query.id
  val runId: UUID = query.runId
  val name: Option[String] = Option(query.name)

  /** Which session runs the query, so two queries of one name in two sessions can be told apart. */
  val session: Option[String] =
    try Option(query.sparkSession).map(s => "session-" + Integer.toHexString(System.identityHashCode(s)))
    catch { case NonFatal(_) => None }

  /** Where the query keeps its checkpoint (a qualified URI), if this Spark lets it be found. */
  val checkpointRoot: Option[String] = StreamInternals.checkpointRoot(query)

  /** Looked up once; the thread is the truth about whether the query still runs. */
  val thread: Option[Thread] = StreamInternals.thread(query)

  val stopState = new AtomicReference[StopState](null)
  val pending = new AtomicReference[PendingStop](null)
  val stopDone = new CompletableFuture[StopState]()

  /** The state of the managed query this run belongs to (one of [[ManagedState]]'s names), or null. */
  @volatile var lifecycle: String = _

  // What to undo when this run ends (a shared port to release, say); run once. Guarded by a lock of their own, not the
  // query's monitor: the stopper holds that while its observers run (the last-run record waits up to a second for its
  // write), and the end of a run is told on Spark's listener bus and on request threads, which must not wait for it.
  private val endHooks = scala.collection.mutable.ArrayBuffer.empty[() => Unit]
  private var hooksFired = false
  private val hooksLock = new Object

  /** Runs `hook` when this run of the query ends (at once if it already has). */
  def onEnd(hook: () => Unit): Unit = {
    val runNow = hooksLock.synchronized {
      if (hooksFired) true else { endHooks += hook; false }
    }
    if (runNow) hook()
  }

  private[core] def fireEndHooks(): Unit = {
    val hooks = hooksLock.synchronized {
      if (hooksFired) Nil else { hooksFired = true; endHooks.toList }
    }
    hooks.foreach(h =>
      try h()
      catch { case NonFatal(_) => () }
    )
  }

  def isRunning: Boolean = thread match {
    case Some(t) => t.isAlive
    case None => query.isActive
  }

  def isContinuous: Boolean = StreamInternals.isContinuous(query)
  def supportsGracefulStop: Boolean = StreamInternals.supportsGracefulStop(query)
  def isWaitingForNextTrigger: Boolean = StreamInternals.isWaitingForNextTrigger(query)
  def isSafeToMarkTerminated: Boolean = StreamInternals.isSafeToMarkTerminated(query)
  def markTerminated(): Boolean = StreamInternals.markTerminated(query)
  def triggerActive: Boolean = StreamInternals.triggerActive(query)
  def batchInSinkStage: Option[Long] = StreamInternals.batchInSinkStage(query)
  override def flushProgress(): ProgressFlush = AsyncProgress.flush(query)
  def stopNow(idle: Boolean): Unit = {
    // The woken thread is on its way out; `stop()` is called once it is in its clean-up (or gone), because an
    // interrupt that lands before that may cost it Spark's 100 ms sleep. A thread short of CPU (a GC, a busy driver)
    // may take tens of milliseconds to get there, so the wait is generous; it ends as soon as the thread gets there.
    if (idle) StreamInternals.wakeFromTriggerWait(query, waitMs = TrackedQuery.WakeWaitMs)
    query.stop()
  }

  def stop: Option[StopState] = Option(stopState.get)

  def status: Option[StatusView] = TrackedQuery.statusView(rawStatus)
  def lastProgress: Option[ProgressView] = TrackedQuery.progressView(rawProgress)
  def exception: Option[String] = Option(rawException).map(TrackedQuery.shortMessage)

  // Spark replaces its status and progress objects when they change and hands out the same object until then, so a
  // view is rebuilt only when one of these references moved: a listing of idle queries rebuilds nothing.
  private def rawStatus: AnyRef = TrackedQuery.orNull(query.status)
  private def rawProgress: AnyRef = TrackedQuery.orNull(query.lastProgress)
  private def rawException: Throwable = TrackedQuery.orNull(query.exception.orNull)
  @volatile private var lastSeen: TrackedQuery.Seen = _

  /** The query as the APIs show it; the same object as the last call's while nothing in it changed. */
  def view: QueryView = {
    val seen =
      new TrackedQuery.Seen(rawStatus, rawProgress, rawException, stopState.get, pending.get, isRunning, lifecycle)
    val last = lastSeen
    if (last != null && last.sameAs(seen)) last.view
    else {
      seen.view = QueryView(
        id,
        runId,
        name,
        session,
        seen.running,
        TrackedQuery.statusView(seen.status),
        TrackedQuery.progressView(seen.progress),
        Option(seen.stop),
        Option(seen.exception).map(TrackedQuery.shortMessage),
        startedAt,
        Option(seen.pending),
        Option(seen.lifecycle)
      )
      lastSeen = seen
      seen.view
    }
  }

  def ended(exceptionText: Option[String]): EndedQuery =
    EndedQuery(
      id,
      runId,
      name,
      session,
      startedAt,
      Instant.now(),
      exception.orElse(exceptionText),
      status,
      lastProgress,
      stopState,
      stopDone,
      checkpointRoot
    )
}

object TrackedQuery {
  private val MaxMessage = 4000

  /** How long a woken idle query is given to reach its clean-up before `stop()` interrupts it again. */
  val WakeWaitMs = 2000L

  /** The references a view was built from, compared by identity. */
  private final class Seen(
      val status: AnyRef,
      val progress: AnyRef,
      val exception: Throwable,
      val stop: StopState,
      val pending: PendingStop,
      val running: Boolean,
      val lifecycle: String
  ) {
    var view: QueryView = _
    def sameAs(o: Seen): Boolean =
      (status eq o.status) && (progress eq o.progress) && (exception eq o.exception) && (stop eq o.stop) &&
        (pending eq o.pending) && running == o.running && (lifecycle eq o.lifecycle)
  }

  /** A read of the query's state; null when Spark throws (a query torn down under the reader). */
  private def orNull[T >: Null](read: => T): T =
    try read
    catch { case NonFatal(_) => null }

  private def statusView(raw: AnyRef): Option[StatusView] = raw match {
    case s: org.apache.spark.sql.streaming.StreamingQueryStatus =>
      Some(StatusView(s.message, s.isDataAvailable, s.isTriggerActive))
    case _ => None
  }

  private def progressView(raw: AnyRef): Option[ProgressView] = raw match {
    case p: org.apache.spark.sql.streaming.StreamingQueryProgress =>
      Some(ProgressView(p.batchId, p.timestamp, p.numInputRows, p.inputRowsPerSecond, p.processedRowsPerSecond))
    case _ => None
  }

  /** The message of a failure, without the plan dump Spark appends to it. */
  def shortMessage(t: Throwable): String = shorten(Option(t.getMessage).getOrElse(t.getClass.getName))

  /** A failure text cut to a size an API answer can carry. */
  def shorten(m: String): String = {
    val cut = m.indexOf("\n=== Streaming Query ===")
    val s = if (cut > 0) m.substring(0, cut) else m
    if (s.length > MaxMessage) s.substring(0, MaxMessage) + "..." else s
  }
}
