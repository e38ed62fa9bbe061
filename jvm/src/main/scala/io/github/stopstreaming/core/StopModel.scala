package io.github.stopstreaming.core

import java.time.Instant

/** How a query is stopped. */
sealed abstract class StopMode(val name: String) { override def toString: String = name }

object StopMode {

  /** The batch in flight finishes and commits, no new batch starts, then the query ends. */
  case object Graceful extends StopMode("graceful")

  /** What `StreamingQuery.stop()` does: the batch in flight is interrupted. */
  case object Immediate extends StopMode("immediate")

  def parse(s: String): Option[StopMode] = Option(s).map(_.trim.toLowerCase) match {
    case Some("graceful") => Some(Graceful)
    case Some("immediate") => Some(Immediate)
    case _ => None
  }

  def parseEither(s: String): Either[String, StopMode] =
    parse(s).toRight(s"'$s' is not one of graceful, immediate")
}

/** Where a stop request came from; every source ends in the same `requestStop`. */
sealed abstract class StopSource(val name: String) { override def toString: String = name }

object StopSource {
  case object Rest extends StopSource("rest")
  case object File extends StopSource("file")
  case object Shutdown extends StopSource("shutdown")
  case object Api extends StopSource("api")

  /** The Streaming Control tab of the Spark UI. */
  case object SparkUi extends StopSource("spark-ui")

  val all: Seq[StopSource] = Seq(Rest, File, Shutdown, Api, SparkUi)
}

/** The life of one stop request. */
sealed abstract class StopPhase(val name: String, val done: Boolean) {
  override def toString: String = name
}

object StopPhase {

  /** A conditional stop waiting for its condition; shown in views only, never the state of a stop under way. */
  case object Pending extends StopPhase("PENDING", done = false)
  case object Requested extends StopPhase("REQUESTED", done = false)

  /** The query was told to start no new batch; the batch in flight is finishing. */
  case object Draining extends StopPhase("DRAINING", done = false)
  case object Stopped extends StopPhase("STOPPED", done = true)

  /** The graceful stop ran past its timeout (or was overridden) and became an immediate one. */
  case object Escalated extends StopPhase("ESCALATED", done = true)
  case object Failed extends StopPhase("FAILED", done = true)
}

/** An immutable snapshot of one stop request; replaced, never mutated. `firedBy` is the condition whose holding made
  * the stop (`Now` for a stop asked directly), `purpose` what it was asked for: how the run ended depends on both.
  */
final case class StopState(
    phase: StopPhase,
    mode: StopMode,
    source: StopSource,
    timeoutMs: Long,
    requestedAt: Instant,
    completedAt: Option[Instant],
    detail: Option[String],
    firedBy: StopCondition = StopCondition.Now,
    purpose: StopPurpose = StopPurpose.End,
    code: Option[String] = None
) {

  /** `code`, once set, stays: it marks a stop that did not leave the checkpoint as its mode promises (for example
    * [[ProgressFlush.UnflushedCode]]).
    */
  def next(p: StopPhase, note: Option[String] = None, code: Option[String] = None): StopState = {
    val at = if (p.done) Some(Instant.now()) else completedAt
    copy(phase = p, completedAt = at, detail = note.orElse(detail), code = code.orElse(this.code))
  }
}

/** When a stop is carried out. Anything but [[StopCondition.Now]] makes the stop PENDING: a graceful stop requested
  * once the condition holds, judged from what Spark reports of the query (its progress and status).
  */
sealed abstract class StopCondition(val text: String) { override def toString: String = text }

object StopCondition {
  case object Now extends StopCondition("now")

  /** Drain, then stop: at the first batch boundary after which the sources report no more data. */
  case object CaughtUp extends StopCondition("caught-up")

  /** Once batch `n` has committed (at once if it already has). */
  final case class AfterBatch(n: Long) extends StopCondition(s"batch:$n")

  /** At a point in time (`in:<duration>` is turned into one when the request arrives). */
  final case class At(instant: Instant) extends StopCondition(instant.toString)

  /** Parses `now`, `caught-up`, `batch:<N>`, `in:<duration>` or an ISO-8601 instant; Left says what was wrong. */
  def parse(text: String, now: Instant = Instant.now()): Either[String, StopCondition] = {
    val v = text.trim
    val usage = "now, caught-up, batch:<N>, in:<duration> or an ISO-8601 instant such as 2026-01-31T22:00:00Z"
    v.toLowerCase match {
      case "" | "now" => Right(Now)
      case "caught-up" => Right(CaughtUp)
      case b if b.startsWith("batch:") =>
        val n = b.stripPrefix("batch:")
        if (n.nonEmpty && n.length <= 18 && n.forall(_.isDigit)) Right(AfterBatch(n.toLong))
        else Left(s"when '$v': the batch must be a number (batch:<N>)")
      case d if d.startsWith("in:") =>
        Durations
          .parse(v.substring(3))
          .map(ms => At(now.plusMillis(ms)))
          .toRight(s"when '$v': the delay must be a duration such as 30s or 10m (in:<duration>)")
      case _ =>
        try Right(At(java.time.OffsetDateTime.parse(v).toInstant))
        catch { case _: java.time.format.DateTimeParseException => Left(s"when '$v' is not one of $usage") }
    }
  }
}

/** What a caller asks of a stop; an empty field means the configured default. Every source (HTTP parameters, a stop
  * file's JSON, the Python and Scala calls) is parsed into this by [[StopRequest.parse]], one rule set for all.
  */
final case class StopRequest(
    mode: Option[StopMode] = None,
    timeoutMs: Option[Long] = None,
    when: StopCondition = StopCondition.Now,
    purpose: StopPurpose = StopPurpose.End
)

object StopRequest {
  val Default: StopRequest = StopRequest()

  /** Parses the textual options of a stop (`mode`, `timeout`, `when`); Left names the bad option. */
  def parse(
      mode: Option[String],
      timeout: Option[String],
      when: Option[String] = None,
      now: Instant = Instant.now()
  ): Either[String, StopRequest] =
    for {
      m <- mode.filter(_.nonEmpty) match {
        case None => Right(None)
        case Some(v) => StopMode.parse(v).map(Some(_)).toRight(s"mode '$v' is not graceful or immediate")
      }
      t <- timeout.filter(_.nonEmpty) match {
        case None => Right(None)
        case Some(v) =>
          Durations.parse(v).map(Some(_)).toRight(s"timeout '$v' is not a duration such as 500ms, 30s or 5m")
      }
      w <- when.fold[Either[String, StopCondition]](Right(StopCondition.Now))(StopCondition.parse(_, now))
      _ <-
        if (w != StopCondition.Now && m.contains(StopMode.Immediate))
          Left(s"when '${w.text}' makes a graceful stop; an immediate stop has no condition (leave out when or mode)")
        else Right(())
    } yield StopRequest(m, t, w)
}

/** A conditional stop waiting for its condition: replaced by a later request, cancelled by DELETE. */
final case class PendingStop(
    condition: StopCondition,
    timeoutMs: Long,
    source: StopSource,
    caller: Caller,
    since: Instant,
    purpose: StopPurpose = StopPurpose.End
) {

  /** Completed once this pending stop is settled: its condition fired and the stop it became finished, or it was
    * cancelled, replaced by another condition, or its query ended. Waiters (`wait=`) hang on it, holding no thread.
    */
  val settled = new java.util.concurrent.CompletableFuture[Unit]()

  /** Settles this pending stop, which was just taken off `t`: at once, or when the stop under way there finishes. */
  def settleAfter(t: StopTarget): Unit =
    if (t.stopState.get == null) settled.complete(())
    else t.stopDone.whenComplete((_, _) => settled.complete(()))

  /** How views show it: a stop in phase PENDING, requested at `since`. */
  def asState: StopState =
    StopState(StopPhase.Pending, StopMode.Graceful, source, timeoutMs, since, None, Some(s"waiting for $condition"))
}

/** What became of a stop request at the one door, [[ControlPlane.requestStop]]. */
sealed trait StopOutcome

object StopOutcome {
  final case class Accepted(query: TrackedQuery, state: StopState) extends StopOutcome

  /** A conditional stop now waits for its condition (it replaced any earlier pending one). */
  final case class Pending(query: TrackedQuery, pending: PendingStop) extends StopOutcome
  final case class AlreadyEnded(query: EndedQuery) extends StopOutcome
  case object NotFound extends StopOutcome

  /** A name that more than one running query has (Spark keeps names unique per session only): nothing is stopped. */
  final case class Ambiguous(matches: Seq[QueryView]) extends StopOutcome
}

/** Who asked, as far as the control plane can tell: the client's address for HTTP, and whether the request carried the
  * configured token (never the token itself).
  */
final case class Caller(address: Option[String], authenticated: Boolean)

object Caller {

  /** A call from inside the driver (the Scala or Python API, the shutdown hook, a stop file). */
  val Internal: Caller = Caller(None, authenticated = false)
}

/** What became of a request to cancel a pending stop. */
sealed trait CancelOutcome

object CancelOutcome {
  final case class Cancelled(query: TrackedQuery, was: PendingStop) extends CancelOutcome

  /** There was nothing to cancel: no pending stop, or a stop already under way (which cannot be taken back). */
  final case class NothingPending(query: TrackedQuery) extends CancelOutcome
  final case class AlreadyEnded(query: EndedQuery) extends CancelOutcome
  case object NotFound extends CancelOutcome
  final case class Ambiguous(matches: Seq[QueryView]) extends CancelOutcome
}
