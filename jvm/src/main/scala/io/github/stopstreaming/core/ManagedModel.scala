package io.github.stopstreaming.core

import java.time.Instant
import java.util.UUID

import org.apache.spark.sql.streaming.StreamingQuery

/** How to start a managed query: called for its first run and again on every resume and restart, each time from the
  * same checkpoint the application chose. It may read dynamic values to build the query. Implemented by a Scala
  * function ([[ManagedQueries.manage]]) or by Python over Py4J's callback server.
  */
trait QueryRecipe {
  def start(): StreamingQuery
}

/** Why a stop was asked: to end the query, or to pause or restart a managed one. Only an `End` stop (or a failure) ends
  * a managed query for good; a pause or a restart is never counted as a failure.
  */
sealed abstract class StopPurpose(val name: String) { override def toString: String = name }

object StopPurpose {
  case object End extends StopPurpose("end")
  case object Pause extends StopPurpose("pause")
  case object Restart extends StopPurpose("restart")
}

/** Where a managed query is in its life. `done` states are final: the application's wait returns. */
sealed abstract class ManagedState(val name: String, val done: Boolean) { override def toString: String = name }

object ManagedState {
  case object Running extends ManagedState("RUNNING", done = false)

  /** A pause was asked: the batch in flight commits (or the pause's condition is awaited), then PAUSED. */
  case object Pausing extends ManagedState("PAUSING", done = false)
  case object Paused extends ManagedState("PAUSED", done = false)

  /** The run is being stopped gracefully to start again, or the new run is starting. */
  case object Restarting extends ManagedState("RESTARTING", done = false)

  /** The run failed; the next start is scheduled at `nextAttemptAt`. */
  case object Backoff extends ManagedState("BACKOFF", done = false)

  /** Failed more often than the policy allows within its window: not restarted again. */
  case object Failed extends ManagedState("FAILED", done = true)

  /** Stopped on purpose (a stop request, the application's own `stop()`, the driver's shutdown). */
  case object Stopped extends ManagedState("STOPPED", done = true)
}

/** Restarts after failures: the n-th failure within `windowMs` waits `initialDelayMs * factor^(n-1)` (at most
  * `maxDelayMs`) before the next start; a failure beyond `maxRestarts` within the window makes the query FAILED.
  */
final case class RestartPolicy(
    initialDelayMs: Long,
    factor: Int,
    maxDelayMs: Long,
    maxRestarts: Int,
    windowMs: Long
) {
  require(initialDelayMs >= 0 && factor >= 1 && maxDelayMs >= 0 && maxRestarts >= 0 && windowMs > 0, toString)

  /** The delay before the restart that follows the `n`-th failure in the window (n >= 1). */
  def delayMs(n: Int): Long = {
    var d = initialDelayMs.toDouble
    var i = 1
    while (i < n && d < maxDelayMs) { d *= factor; i += 1 }
    math.min(maxDelayMs.toDouble, d).toLong
  }
}

object RestartPolicy {
  val Default: RestartPolicy = RestartPolicy(1000L, 2, 60000L, 3, 600000L)
}

/** A snapshot of one managed query, as every API shows it. */
final case class ManagedView(
    name: String,
    state: ManagedState,
    since: Instant,
    nextAttemptAt: Option[Instant],
    queryId: Option[UUID],
    runId: Option[UUID],
    runs: Int,
    restarts: Int,
    failures: Int,
    lastError: Option[String],
    pausedMs: Long,
    policy: RestartPolicy,
    /** Paused, and the pause is written to `spark.stopstreaming.conf.file`, so it survives a driver restart. */
    persistedPause: Boolean
)

/** What became of a pause, resume or restart request. */
sealed trait ManagedOutcome

object ManagedOutcome {

  /** The request was taken (or there was nothing to do: already paused, already running); `view` is right after it. */
  final case class Accepted(view: ManagedView, changed: Boolean) extends ManagedOutcome
  case object NotFound extends ManagedOutcome

  /** The query is in a state the request cannot apply to (FAILED, STOPPED): nothing changed. */
  final case class Conflict(view: ManagedView, why: String) extends ManagedOutcome
}

/** A managed query's name cannot be used, or the name is already managed and running. */
final class ManagedQueryException(message: String) extends IllegalArgumentException(message)

/** A managed query ended FAILED: its restarts were exhausted. */
final class ManagedQueryFailedException(val view: ManagedView)
    extends RuntimeException(
      s"managed query '${view.name}' failed ${view.failures} time(s) within " +
        s"${view.policy.windowMs / 1000}s and is not restarted again; last error: ${view.lastError.getOrElse("unknown")}"
    )
