package io.github.stopstreaming.core

import java.time.Instant
import java.util.UUID

/** How a run that this plugin ended came to its end, as recorded beside its checkpoint. */
sealed abstract class RunEnding(val name: String) { override def toString: String = name }

object RunEnding {

  /** A graceful stop: the batch in flight committed, no new one started. */
  case object Graceful extends RunEnding("graceful")

  /** A graceful stop whose condition was `when=caught-up`: the sources had no more data. */
  case object Drained extends RunEnding("drained")

  /** A managed query paused: a graceful stop after which it waits to be resumed. */
  case object Paused extends RunEnding("paused")

  /** `StreamingQuery.stop()`: a batch in flight, if any, was cut. */
  case object Immediate extends RunEnding("immediate")

  /** A graceful stop that ran out of time (or was overridden) and became immediate. */
  case object Escalated extends RunEnding("escalated")

  /** The stop failed: how the run ended is not ours to say. */
  case object Failed extends RunEnding("failed")

  /** The run ended, but the last batches that async progress tracking committed in memory only could not be written:
    * the checkpoint looks clean and a restart still runs them again.
    */
  case object Unflushed extends RunEnding("unflushed")

  val all: Seq[RunEnding] = Seq(Graceful, Drained, Paused, Immediate, Escalated, Failed, Unflushed)

  def parse(s: String): Option[RunEnding] = all.find(_.name == s)

  /** How a finished stop ended its run. */
  def of(s: StopState): RunEnding = s.phase match {
    case StopPhase.Failed => Failed
    case StopPhase.Escalated => Escalated
    case _ if s.code.contains(StopCodes.AsyncProgressUnflushed) => Unflushed
    // Asked for gracefully, but a continuous query has no batch to finish: it was stopped at once.
    case _ if s.mode == StopMode.Immediate || s.code.contains(StopCodes.ContinuousNoBatchBoundary) => Immediate
    case _ if s.purpose == StopPurpose.Pause => Paused
    case _ if s.firedBy == StopCondition.CaughtUp => Drained
    case _ => Graceful
  }
}

/** The record written at `<checkpoint>/_stopstreaming/last-run.json` when a stop of ours finished: who ended which run,
  * how, and the last batch committed once it had ended. Fields are kept as read, so a record of a newer plugin with a
  * source this one does not know still reads.
  */
final case class LastRunRecord(
    queryId: String,
    runId: String,
    name: Option[String],
    endedBy: RunEnding,
    source: String,
    mode: String,
    when: String,
    at: Instant,
    lastCommittedBatch: Option[Long],
    detail: Option[String]
)

object LastRunRecord {
  val Version = 1

  /** The folder and file name under a checkpoint root. */
  val Folder = "_stopstreaming"
  val FileName = "last-run.json"

  def of(id: UUID, runId: UUID, name: Option[String], s: StopState, lastCommitted: Option[Long]): LastRunRecord =
    LastRunRecord(
      id.toString,
      runId.toString,
      name,
      RunEnding.of(s),
      s.source.name,
      s.mode.name,
      s.firedBy.text,
      s.completedAt.getOrElse(Instant.now()),
      lastCommitted,
      s.detail
    )
}

/** The record as a report shows it, with what it means for this checkpoint now. */
final case class LastRunReport(record: LastRunRecord, howItEnded: String)

object LastRunReport {

  /** `cut` when a batch is planned and not committed, whatever the record says; the record's `endedBy` when it
    * describes the checkpoint as it is (the same last commit); `unknown` when the checkpoint moved on since (a later
    * run ended without us). The second value is a warning to show, if any.
    */
  def judge(
      record: LastRunRecord,
      clean: Boolean,
      lastCommitted: Option[Long],
      queryId: Option[String]
  ): (LastRunReport, Option[String]) =
    if (queryId.exists(_ != record.queryId))
      (
        LastRunReport(record, Unknown),
        Some(s"the last-run record is of query ${record.queryId}, not of this checkpoint's ${queryId.get}")
      )
    else if (!clean) (LastRunReport(record, Cut), None)
    else if (record.lastCommittedBatch == lastCommitted) (LastRunReport(record, record.endedBy.name), None)
    else {
      val ahead = (record.lastCommittedBatch, lastCommitted) match {
        case (Some(r), Some(c)) => r > c
        case (Some(_), None) => true
        case _ => false
      }
      val warning =
        if (ahead)
          Some(
            s"the last-run record names batch ${record.lastCommittedBatch.get} as committed, beyond this checkpoint's " +
              s"last commit (${lastCommitted.getOrElse("none")}): the checkpoint was edited or replaced"
          )
        else None
      (LastRunReport(record, Unknown), warning)
    }

  val Cut = "cut"
  val Unknown = "unknown"
}
