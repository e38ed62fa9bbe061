package io.github.stopstreaming.core

/** What a streaming checkpoint says a restart from it will run: the same report as the Python inspector's
  * (`stopstreaming.inspect_checkpoint`), as plain values. Reading it is the `fs` layer's job; writing it as JSON the
  * codec's.
  *
  * A checkpoint is clean when its last planned batch (`offsets/N`) is its last committed one (`commits/N`): a restart
  * then re-runs nothing. `state` is `new` (nothing planned yet), `clean` or `rerun`.
  */
final case class CheckpointReport(
    path: String,
    queryId: Option[String],
    lastPlannedBatch: Option[Long],
    lastCommittedBatch: Option[Long],
    batchesKept: Int,
    state: String,
    clean: Boolean,
    restartReruns: Option[RestartRerun],
    nextBatch: Long,
    watermarkMs: Long,
    batchTimestampMs: Option[Long],
    offsetsFormat: Option[String],
    commitsFormat: Option[String],
    sources: Seq[SourceOffset],
    conf: Seq[(String, String)],
    stateOperators: Seq[StateOperatorInfo],
    warnings: Seq[String],
    lastRun: Option[LastRunReport]
)

/** The batch a restart runs again: planned in `offsets/batch`, never committed, over `[fromOffsets, toOffsets)`. */
final case class RestartRerun(
    batch: Long,
    fromOffsets: Option[Seq[SourceOffset]],
    toOffsets: Seq[SourceOffset],
    why: String
)

/** One source line of an offsets entry, in plan order. `offset` is the line as Spark wrote it (None for `-`: no offset
  * yet); `json` says whether it is JSON (every built-in source writes JSON) or a source's own text.
  */
final case class SourceOffset(index: Int, id: Option[String], offset: Option[String], json: Boolean)

/** A stateful operator's folder under `state/`: its partitions, and its name and stores where Spark 4 wrote them. */
final case class StateOperatorInfo(
    id: Long,
    partitions: Int,
    provider: Option[String],
    name: Option[String],
    stores: Seq[String]
)

/** A checkpoint that cannot be described: not a checkpoint, one Spark would refuse to restart from, or an entry that is
  * not what Spark writes. `io` is set when the file system failed, rather than the folder's content.
  */
final class CheckpointException(message: String, val io: Boolean = false) extends RuntimeException(message)
