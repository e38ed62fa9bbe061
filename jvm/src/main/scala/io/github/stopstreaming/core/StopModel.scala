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
}

/** The life of one stop request. */
sealed abstract class StopPhase(val name: String, val done: Boolean) {
  override def toString: String = name
}

object StopPhase {
  case object Requested extends StopPhase("REQUESTED", done = false)

  /** The query was told to start no new batch; the batch in flight is finishing. */
  case object Draining extends StopPhase("DRAINING", done = false)
  case object Stopped extends StopPhase("STOPPED", done = true)

  /** The graceful stop ran past its timeout (or was overridden) and became an immediate one. */
  case object Escalated extends StopPhase("ESCALATED", done = true)
  case object Failed extends StopPhase("FAILED", done = true)
}

/** An immutable snapshot of one stop request; replaced, never mutated. */
final case class StopState(
    phase: StopPhase,
    mode: StopMode,
    source: StopSource,
    timeoutMs: Long,
    requestedAt: Instant,
    completedAt: Option[Instant],
    detail: Option[String]
) {

  def next(p: StopPhase, note: Option[String] = None): StopState = {
    val at = if (p.done) Some(Instant.now()) else completedAt
    copy(phase = p, completedAt = at, detail = note.orElse(detail))
  }
}

/** What a caller asks of a stop; an empty field means the configured default. Every source (HTTP parameters, a stop
  * file's JSON, the Python and Scala calls) is parsed into this by [[StopRequest.parse]], one rule set for all.
  */
final case class StopRequest(mode: Option[StopMode] = None, timeoutMs: Option[Long] = None)

object StopRequest {
  val Default: StopRequest = StopRequest()

  /** Parses the textual options of a stop (`mode`, `timeout`); Left names the bad option. */
  def parse(mode: Option[String], timeout: Option[String]): Either[String, StopRequest] =
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
    } yield StopRequest(m, t)
}

/** What became of a stop request at the one door, [[ControlPlane.requestStop]]. */
sealed trait StopOutcome

object StopOutcome {
  final case class Accepted(query: TrackedQuery, state: StopState) extends StopOutcome
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
