package io.github.stopstreaming.fs

import java.util.concurrent.{LinkedBlockingQueue, RejectedExecutionException, ThreadPoolExecutor, TimeUnit}

import scala.util.control.NonFatal

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{ChecksumFileSystem, FileSystem, Path}
import org.slf4j.LoggerFactory

/** Writes `<checkpoint>/_stopstreaming/last-run.json` when a stop of ours finishes, so that whoever reads the
  * checkpoint later (`stopstreaming checkpoint`, `GET /api/v1/queries/{id}/checkpoint`) can tell how the last run
  * ended: graceful, drained, paused, immediate, escalated or failed, and the last batch committed once it had ended.
  *
  * Writes happen on one thread of their own, a temporary file renamed over the record. The stop path (which calls
  * [[on]]) waits for a write at most `waitMs`, so a record is usually in place when a stop's waiter wakes, and a slow
  * or failing file system costs a stop no more than that: a failure is logged, never thrown.
  */
final class LastRunRecorder(hadoopConf: Configuration, threads: NamedThreads, waitMs: Long = LastRunRecorder.WaitMs)
    extends ControlPlaneListener {
  private val log = LoggerFactory.getLogger(getClass)

  private val writer = {
    val p = new ThreadPoolExecutor(
      1,
      1,
      30,
      TimeUnit.SECONDS,
      new LinkedBlockingQueue[Runnable](LastRunRecorder.MaxQueued),
      threads.factory("last-run")
    )
    p.allowCoreThreadTimeOut(true)
    p
  }

  // Touched on the writer thread only. A managed query's pause may be told before or after the stop of its run
  // finished (a restart's stop that became a pause): whichever comes second makes the record say `paused`.
  private val written = new java.util.LinkedHashMap[String, (String, LastRunRecord)]()
  private val pausedRuns = new java.util.LinkedHashMap[String, Unit]()

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.StopFinished(t: TrackedQuery, s) =>
      t.checkpointRoot.foreach { root =>
        submit(s"the stop of query ${t.id}")(record(root, t, s)).foreach { f =>
          try f.get(waitMs, TimeUnit.MILLISECONDS)
          catch {
            case _: java.util.concurrent.TimeoutException =>
              log.warn(s"query ${t.id}: the last-run record is still being written after ${waitMs}ms; the stop goes on")
            case NonFatal(_) => () // logged by the task
          }
        }
      }
    case ControlEvent.ManagedTransition(v, from, _, _, _) if v.state == ManagedState.Paused && from != v.state =>
      v.runId.foreach(run => submit(s"the pause of managed query '${v.name}'")(paused(run.toString)))
    case _ => ()
  }

  private def submit(what: String)(task: => Unit): Option[java.util.concurrent.Future[_]] =
    try Some(writer.submit((() => task): Runnable))
    catch {
      case _: RejectedExecutionException =>
        log.warn(s"stopstreaming: no last-run record for $what (the writer is busy or closed)")
        None
    }

  private def record(root: String, t: TrackedQuery, s: StopState): Unit = {
    val run = t.runId.toString
    val ending = RunEnding.of(s) match {
      case RunEnding.Graceful if pausedRuns.containsKey(run) => RunEnding.Paused
      case other => other
    }
    write(
      root,
      run,
      fs => LastRunRecord.of(t.id, t.runId, t.name, s, CheckpointReader.lastCommitted(fs, new Path(root)))
    )(
      _.copy(endedBy = ending)
    )
  }

  private def paused(run: String): Unit = Option(written.get(run)) match {
    case Some((root, r)) if r.endedBy == RunEnding.Graceful =>
      write(root, run, _ => r)(_.copy(endedBy = RunEnding.Paused))
    case Some(_) => () // escalated, immediate, failed: the pause does not hide what became of the batch
    case None => bounded(pausedRuns).put(run, ())
  }

  private def write(root: String, run: String, make: FileSystem => LastRunRecord)(
      adjust: LastRunRecord => LastRunRecord
  ) =
    try {
      val base = new Path(root)
      val fs = LastRunRecorder.writable(base.getFileSystem(hadoopConf))
      // A checkpoint that is gone (Spark deletes a temporary one as its query stops; or it was removed by hand) is not
      // made again just to hold a record: mkdirs would leave a folder behind, or a stale record in a fresh checkpoint.
      if (!fs.exists(base)) log.info(s"stopstreaming: no last-run record for run $run: its checkpoint $root is gone")
      else {
        val r = adjust(make(fs))
        val dir = new Path(base, LastRunRecord.Folder)
        fs.mkdirs(dir)
        SafeFiles.writeWhole(fs, new Path(dir, LastRunRecord.FileName), Json.bytes(Json.lastRunRecord(r)))
        bounded(written).put(run, (root, r))
        log.info(
          s"query ${r.queryId}: run ${r.runId} ended ${r.endedBy} (last commit ${r.lastCommittedBatch.getOrElse("none")}), recorded in $dir"
        )
      }
    } catch {
      case NonFatal(e) => log.warn(s"stopstreaming: could not write the last-run record under $root", e)
    }

  private def bounded[V](m: java.util.LinkedHashMap[String, V]): java.util.LinkedHashMap[String, V] = {
    while (m.size >= LastRunRecorder.Remembered) m.remove(m.keySet.iterator.next())
    m
  }

  /** Lets records being written finish, briefly. */
  def close(): Unit = {
    writer.shutdown()
    try writer.awaitTermination(waitMs * 2, TimeUnit.MILLISECONDS)
    catch { case _: InterruptedException => Thread.currentThread().interrupt() }
  }
}

object LastRunRecorder {

  /** How long a finished stop waits for its record to be written. */
  val WaitMs = 1000L
  val MaxQueued = 256
  private val Remembered = 256

  /** The local disk without Hadoop's `.crc` files, which Spark's checkpoint readers never check and which would turn a
    * record edited by hand into a `ChecksumException`.
    */
  private[fs] def writable(fs: FileSystem): FileSystem = fs match {
    case c: ChecksumFileSystem => c.getRawFileSystem
    case other => other
  }
}
