package io.github.stopstreaming.core

import java.util.UUID
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicReference

/** A query as the stop engine sees it: its stop state, and the few facts and actions a stop needs. [[TrackedQuery]] is
  * the real one (a Spark query through [[StreamInternals]]); the engine's unit tests use scripted stubs.
  */
trait StopTarget {
  def id: UUID
  def name: Option[String]

  /** Empty until a stop is requested; then only ever replaced by a later phase. */
  def stopState: AtomicReference[StopState]

  /** Completed once the stop (if any) has finished, for callers that wait on it. */
  def stopDone: CompletableFuture[StopState]

  /** Whether the query really still runs (its thread, not `isActive`, which turns false at the mark). */
  def isRunning: Boolean
  def isContinuous: Boolean

  /** Whether this Spark lets the query be told to start no new batch. */
  def supportsGracefulStop: Boolean
  def isWaitingForNextTrigger: Boolean
  def isSafeToMarkTerminated: Boolean

  /** Tells the query to start no new batch; false when that is not possible. */
  def markTerminated(): Boolean
  def triggerActive: Boolean

  /** A conditional stop waiting for its condition, or null. */
  def pending: AtomicReference[PendingStop]

  /** What the stop conditions read, all of it reported by Spark: the latest progress (batch id, input rows), the status
    * (whether a trigger runs and whether the latest one found data: read together, from one status object), and the
    * batch in its sink stage now, if any.
    */
  def lastProgress: Option[ProgressView]
  def status: Option[StatusView]
  def batchInSinkStage: Option[Long]

  /** `StreamingQuery.stop()`: blocks until the query thread has ended; the batch in flight is interrupted. `idle` says
    * the query was seen asleep between triggers, so it can be woken first (see
    * [[StreamInternals.wakeFromTriggerWait]]).
    */
  def stopNow(idle: Boolean = false): Unit

  /** Once the query thread has ended: makes the offsets and commit of its last batch durable where Spark keeps them in
    * memory only (async progress tracking, see [[AsyncProgress]]).
    */
  def flushProgress(): ProgressFlush = ProgressFlush.NotNeeded
}
