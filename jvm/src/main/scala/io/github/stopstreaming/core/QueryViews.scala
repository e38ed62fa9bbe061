package io.github.stopstreaming.core

import java.time.Instant
import java.util.UUID
import java.util.concurrent.atomic.AtomicReference

/** What the control plane keeps of a query once it has ended: no handle, only facts. */
final case class EndedQuery(
    id: UUID,
    runId: UUID,
    name: Option[String],
    session: Option[String],
    startedAt: Instant,
    endedAt: Instant,
    exception: Option[String],
    lastStatus: Option[StatusView],
    lastProgress: Option[ProgressView],
    stopRef: AtomicReference[StopState],
    stopDone: java.util.concurrent.CompletableFuture[StopState],
    checkpointRoot: Option[String] = None
) {

  /** Read at each look: a stop still finishing when the query left the registry updates it. */
  def stop: Option[StopState] = Option(stopRef.get)

  // The view, kept while the stop state it shows is the same object (the rest never changes).
  @volatile private var shown: (StopState, QueryView) = _

  def view: QueryView = {
    val s = stopRef.get
    val last = shown
    if (last != null && (last._1 eq s)) last._2
    else {
      val v = QueryView(
        id,
        runId,
        name,
        session,
        active = false,
        lastStatus.map(_.copy(isTriggerActive = false, isDataAvailable = false)),
        lastProgress,
        Option(s),
        exception,
        startedAt
      )
      shown = (s, v)
      v
    }
  }
}

final case class StatusView(message: String, isDataAvailable: Boolean, isTriggerActive: Boolean)

final case class ProgressView(
    batchId: Long,
    timestamp: String,
    numInputRows: Long,
    inputRowsPerSecond: Double,
    processedRowsPerSecond: Double
)

/** A snapshot of one query, running or ended, as every API shows it. `session` tells apart two queries of one name in
  * two sessions.
  */
final case class QueryView(
    id: UUID,
    runId: UUID,
    name: Option[String],
    session: Option[String],
    active: Boolean,
    status: Option[StatusView],
    lastProgress: Option[ProgressView],
    stop: Option[StopState],
    exception: Option[String],
    startedAt: Instant,
    pending: Option[PendingStop] = None,
    lifecycle: Option[String] = None
) {

  /** The stop to show: the one under way or done, else a pending one. */
  def shownStop: Option[StopState] = stop.orElse(pending.map(_.asState))
}
