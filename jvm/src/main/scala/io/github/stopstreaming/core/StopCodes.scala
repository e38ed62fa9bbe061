package io.github.stopstreaming.core

/** The `code` a stop carries when it did not leave the checkpoint as its mode promises: the one list, which the HTTP
  * docs are checked against. A stop without a code kept its promise (graceful: the batch in flight committed).
  */
object StopCodes {

  /** The query's last batches are not on storage (async progress tracking): a restart runs them again. */
  val AsyncProgressUnflushed: String = ProgressFlush.UnflushedCode

  /** A continuous-processing query has no batch boundary to wait for: a graceful request stopped it at once. */
  val ContinuousNoBatchBoundary = "continuous-no-batch-boundary"

  /** The graceful stop ran past its timeout (or an immediate one overrode it): the batch in flight was cut. */
  val GracefulTimedOut = "graceful-timed-out"

  val all: Seq[String] = Seq(AsyncProgressUnflushed, ContinuousNoBatchBoundary, GracefulTimedOut)
}
