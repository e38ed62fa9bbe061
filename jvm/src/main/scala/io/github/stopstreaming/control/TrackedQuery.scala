package io.github.stopstreaming.control

import java.time.Instant
import java.util.UUID
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

import org.apache.spark.sql.streaming.StreamingQuery

/** What the control plane keeps of a query once it has ended: no handle, only facts. */
final case class EndedQuery(
    id: UUID,
    runId: UUID,
    name: Option[String],
    startedAt: Instant,
    endedAt: Instant,
    exception: Option[String],
    lastStatus: Option[StatusView],
    lastProgress: Option[ProgressView],
    stopRef: AtomicReference[StopState]
) {

  /** Read at each look: a stop still finishing when the query left the registry updates it. */
  def stop: Option[StopState] = Option(stopRef.get)
}

final case class StatusView(message: String, isDataAvailable: Boolean, isTriggerActive: Boolean)

final case class ProgressView(
    batchId: Long,
    timestamp: String,
    numInputRows: Long,
    inputRowsPerSecond: Double,
    processedRowsPerSecond: Double
)

/** A snapshot of one query, running or ended, as every API shows it. */
final case class QueryView(
    id: UUID,
    runId: UUID,
    name: Option[String],
    active: Boolean,
    status: Option[StatusView],
    lastProgress: Option[ProgressView],
    stop: Option[StopState],
    exception: Option[String],
    startedAt: Instant
)

/** A registered, running query: its handle and the state of the one stop it may get. */
final class TrackedQuery(val query: StreamingQuery, val startedAt: Instant) {
  val id: UUID = query.id
  val runId: UUID = query.runId
  val name: Option[String] = Option(query.name)

  /** Looked up once; the thread is the truth about whether the query still runs. */
  val thread: Option[Thread] = StreamInternals.thread(query)

  /** Empty until a stop is requested; then only ever replaced by a later phase. */
  val stopState = new AtomicReference[StopState](null)

  /** Completed once the stop (if any) has finished, for callers that wait on it. */
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

  private[control] def fireEndHooks(): Unit = {
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
    QueryView(id, runId, name, isRunning, status, lastProgress, stop, exception, startedAt)

  def ended(exceptionText: Option[String]): EndedQuery =
    EndedQuery(
      id,
      runId,
      name,
      startedAt,
      Instant.now(),
      exception.orElse(exceptionText),
      status,
      lastProgress,
      stopState
    )
}

object TrackedQuery {
  private val MaxMessage = 4000

  /** The message of a failure, without the plan dump Spark appends to it. */
  def shortMessage(t: Throwable): String = {
    val m = Option(t.getMessage).getOrElse(t.getClass.getName)
    val cut = m.indexOf("\n=== Streaming Query ===")
    val s = if (cut > 0) m.substring(0, cut) else m
    if (s.length > MaxMessage) s.substring(0, MaxMessage) + "..." else s
  }

  def view(e: EndedQuery): QueryView =
    QueryView(
      e.id,
      e.runId,
      e.name,
      active = false,
      e.lastStatus.map(_.copy(isTriggerActive = false, isDataAvailable = false)),
      e.lastProgress,
      e.stop,
      e.exception,
      e.startedAt
    )
}
