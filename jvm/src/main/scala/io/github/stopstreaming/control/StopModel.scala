package io.github.stopstreaming.control

import java.time.Instant

/** How a query is stopped. */
sealed abstract class StopMode(val name: String) { override def toString: String = name }

object StopMode {

  /** The batch in flight finishes and commits, no new batch starts, then the query ends. */
  case object Graceful extends StopMode("graceful")

  /** What `StreamingQuery.stop()` does: the batch in flight is interrupted. */
  case object Immediate extends StopMode("immediate")

  def parse(s: String): Option[StopMode] = s.trim.toLowerCase match {
    case "graceful" => Some(Graceful)
    case "immediate" => Some(Immediate)
    case _ => None
  }
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
