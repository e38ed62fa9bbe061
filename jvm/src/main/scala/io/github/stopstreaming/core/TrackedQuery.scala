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

  /** Looked up once; the thread is the truth about whether the query still runs. */
  val thread: Option[Thread] = StreamInternals.thread(query)

  val stopState = new AtomicReference[StopState](null)
  val pending = new AtomicReference[PendingStop](null)
  val stopDone = new CompletableFuture[StopState]()

  // What to undo when this run ends (a shared port to release, say); run once.
  private val endHooks = scala.collection.mutable.ArrayBuffer.empty[() => Unit]
  private var hooksFired = false

  /** Runs `hook` when this run of the query ends (at once if it already has). */
  def onEnd(hook: () => Unit): Unit = {
    val runNow = synchronized {
      if (hooksFired) true else { endHooks += hook; false }
    }
    if (runNow) hook()
  }

  private[core] def fireEndHooks(): Unit = {
    val hooks = synchronized {
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
  def stopNow(idle: Boolean): Unit = {
    if (idle) StreamInternals.wakeFromTriggerWait(query, waitMs = 50)
    query.stop()
  }

  def stop: Option[StopState] = Option(stopState.get)

  def status: Option[StatusView] =
    try {
      val s = query.status
      Some(StatusView(s.message, s.isDataAvailable, s.isTriggerActive))
    } catch { case NonFatal(_) => None }

  def lastProgress: Option[ProgressView] =
    try
      Option(query.lastProgress).map { p =>
        ProgressView(p.batchId, p.timestamp, p.numInputRows, p.inputRowsPerSecond, p.processedRowsPerSecond)
      }
    catch { case NonFatal(_) => None }

  def exception: Option[String] =
    try query.exception.map(e => TrackedQuery.shortMessage(e))
    catch { case NonFatal(_) => None }

  def view: QueryView =
    QueryView(id, runId, name, session, isRunning, status, lastProgress, stop, exception, startedAt, Option(pending.get))

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
      stopDone
    )
}

object TrackedQuery {
  private val MaxMessage = 4000

  /** The message of a failure, without the plan dump Spark appends to it. */
  def shortMessage(t: Throwable): String = shorten(Option(t.getMessage).getOrElse(t.getClass.getName))

  /** A failure text cut to a size an API answer can carry. */
  def shorten(m: String): String = {
    val cut = m.indexOf("\n=== Streaming Query ===")
    val s = if (cut > 0) m.substring(0, cut) else m
    if (s.length > MaxMessage) s.substring(0, MaxMessage) + "..." else s
  }
}
