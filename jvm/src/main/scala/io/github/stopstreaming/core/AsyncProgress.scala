package io.github.stopstreaming.core

import java.io.OutputStream
import java.lang.reflect.Method
import java.util.concurrent.{ThreadPoolExecutor, TimeUnit}

import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** What became of the progress of a stopped query with async progress tracking (see [[AsyncProgress]]). */
sealed trait ProgressFlush

object ProgressFlush {

  /** The query writes its offset and commit logs itself, batch by batch: nothing to do. */
  case object NotNeeded extends ProgressFlush

  /** The offsets and the commit of `batchId`, the last batch that ended, are on storage; `wrote` lists what the stop
    * wrote itself (empty when Spark had written them).
    */
  final case class Durable(batchId: Long, wrote: Seq[String]) extends ProgressFlush

  /** They could not be made durable: a restart runs again the batches since the last one on storage. */
  final case class Unflushed(why: String) extends ProgressFlush

  /** The `code` of a stop whose query's last batches are not on storage. */
  val UnflushedCode = "async-progress-unflushed"
}

/** Async progress tracking (`asyncProgressTrackingEnabled`, Kafka sink; Spark's
  * `AsyncProgressTrackingMicroBatchExecution`, the same logic on 3.5 to 4.2) writes a batch's offsets and commit on
  * another thread, and only for the first batch of a run and then for one batch every
  * `asyncProgressTrackingCheckpointIntervalMs` (default 1 s): the batches in between are committed in memory only
  * (`AsyncCommitLog.addInMemory`). The clean-up of the query thread waits for the writes it issued
  * (`ThreadUtils.shutdown` of the writer pool), but the in-memory entries die with the query: a restart goes back to
  * the last batch on storage and runs every later batch again, whose output the sink has already written. So a query
  * that ended after batch N, gracefully or not, must have `offsets/N` and `commits/N` on storage.
  *
  * [[flush]] writes them, once the query thread has ended, from the logs' own memory (`batchCache`, which keeps the
  * last two entries), with the logs' own serializer and file manager (atomic create, never overwrite), so the files are
  * Spark's, byte for byte. Everything is looked up by reflection: Scala's `protected` members are public in bytecode.
  * The offsets of N-1 are written too when the log still holds them, so that the end of the log is contiguous: Spark's
  * restart without async progress tracking reads `offsets/N-1` beside `offsets/N` (the log may have gaps before, as
  * async progress tracking's own logs have).
  */
object AsyncProgress {
  private val log = LoggerFactory.getLogger(getClass)
  private val ExecutionClass = "AsyncProgressTrackingMicroBatchExecution"

  /** How long the flush waits for Spark's own writer pool to finish (its clean-up waits 30 s, then gives up). */
  private val WriterWaitMs = 30000L

  /** Whether the query runs with async progress tracking. */
  def isAsync(query: StreamingQuery): Boolean = Try(isAsyncExecution(StreamInternals.execution(query))).getOrElse(false)

  private def isAsyncExecution(exec: AnyRef): Boolean =
    Iterator
      .iterate[Class[_]](exec.getClass)(_.getSuperclass)
      .takeWhile(_ != null)
      .exists(_.getName.endsWith(ExecutionClass))

  /** Makes the offsets and the commit of the last batch that ended durable. Call only once the query thread has ended:
    * the query then writes nothing more, and its writer pool has been shut down.
    */
  def flush(query: StreamingQuery): ProgressFlush = {
    val exec = StreamInternals.execution(query)
    if (!isAsyncExecution(exec)) return ProgressFlush.NotNeeded
    try {
      awaitWriters(exec)
      val offsets = call(exec, "offsetLog")
      val commits = call(exec, "commitLog")
      // The latest id among the files and the memory of the log: the last batch that committed in this run.
      // A new run of the query (a managed restart starts one as soon as this run's thread ended) reads and writes
      // these logs itself: writing under it would mix two runs' batches in one log, or make it fail on a file it
      // expected to write. Its restart runs the unwritten batches again, and the stop says so.
      (otherRun(query), latestBatchId(commits)) match {
        case (_, None) => ProgressFlush.Durable(-1, Nil)
        case (Some(run), Some(_)) =>
          ProgressFlush.Unflushed(s"run $run of the query already started on its checkpoint; not written under it")
        case (None, Some(n)) =>
          // Past N there may be the offsets of one batch cut by an immediate stop (a restart runs it again, from
          // N's offsets once those are written); anything more is another run on the checkpoint, not to be raced.
          val beyond = onDisk(offsets).filter(_ > n + 1) ++ onDisk(commits).filter(_ > n)
          if (beyond.nonEmpty) {
            ProgressFlush.Unflushed(
              s"the checkpoint already holds batch ${beyond.max}, past the last one that ended ($n)"
            )
          } else {
            // Offsets first: a commit without its offsets is a checkpoint Spark refuses. Offsets N-1 too, when the log
            // still holds it: a restart without async progress tracking (and the inspector) reads it beside N.
            val before = if (n > 0) Try(persist(offsets, n - 1)).toOption.flatten.toSeq else Nil
            val wrote = before ++ Seq(offsets, commits).flatMap(l => persist(l, n))
            val missing = Seq("offsets" -> offsets, "commits" -> commits).collect {
              case (name, l) if !onDisk(l).contains(n) => name
            }
            if (missing.isEmpty) {
              if (wrote.nonEmpty) log.info(s"query ${query.id}: async progress of batch $n made durable: $wrote")
              ProgressFlush.Durable(n, wrote)
            } else ProgressFlush.Unflushed(s"batch $n is still not on storage in ${missing.mkString(" and ")}")
          }
      }
    } catch {
      case NonFatal(e) =>
        val cause = Option(e.getCause).filter(_ => e.isInstanceOf[java.lang.reflect.InvocationTargetException])
        val why = cause.getOrElse(e)
        log.warn(s"query ${query.id}: the async progress of its last batch could not be made durable", why)
        ProgressFlush.Unflushed(s"${why.getClass.getSimpleName}: ${why.getMessage}")
    }
  }

  /** The id of another active run of `query` in its session, if one started since `query`'s run ended. */
  private[stopstreaming] def otherRun(query: StreamingQuery): Option[java.util.UUID] =
    Try(query.sparkSession.streams.active.find(q => q.id == query.id && q.runId != query.runId).map(_.runId))
      .getOrElse(None)

  /** Spark's clean-up waits for its writer pool, then gives up; a write still under way must land first. */
  private def awaitWriters(exec: AnyRef): Unit =
    Try(call(exec, "asyncWritesExecutorService")).toOption.collect { case p: ThreadPoolExecutor => p }.foreach { p =>
      p.shutdown()
      p.awaitTermination(WriterWaitMs, TimeUnit.MILLISECONDS)
    }

  private def latestBatchId(metadataLog: AnyRef): Option[Long] =
    call(metadataLog, "getLatestBatchId").asInstanceOf[Option[Any]].map(_.asInstanceOf[Long])

  private def onDisk(metadataLog: AnyRef): Seq[Long] =
    call(metadataLog, "listBatchesOnDisk").asInstanceOf[Array[Long]].toSeq

  /** Writes entry `n` of the log from its memory, the way `HDFSMetadataLog.write` does; the path when it wrote. */
  private def persist(metadataLog: AnyRef, n: Long): Option[String] = {
    val files = call(metadataLog, "fileManager")
    val path = method(metadataLog, "batchIdToPath", classOf[Long]).invoke(metadataLog, Long.box(n))
    if (call(files, "exists", path).asInstanceOf[Boolean]) return None
    val entry = method(metadataLog, "get", classOf[Long]).invoke(metadataLog, Long.box(n)).asInstanceOf[Option[AnyRef]]
    val metadata = entry.getOrElse(throw new IllegalStateException(s"batch $n of $path is no longer in memory"))
    val serialize = allMethods(metadataLog.getClass)
      .find { m =>
        m.getName == "serialize" && m.getParameterCount == 2 && m.getParameterTypes()(0).isInstance(metadata) &&
        m.getParameterTypes()(1) == classOf[OutputStream]
      }
      .getOrElse(throw new NoSuchMethodException(s"${metadataLog.getClass.getName}.serialize"))
    serialize.setAccessible(true)
    val out = method(files, "createAtomic", path.getClass, classOf[Boolean])
      .invoke(files, path, java.lang.Boolean.FALSE)
      .asInstanceOf[OutputStream]
    try {
      serialize.invoke(metadataLog, metadata, out)
      out.close()
    } catch {
      case NonFatal(e) =>
        Try(call(out, "cancel"))
        throw e
    }
    Some(path.toString)
  }

  private def allMethods(cls: Class[_]): Iterator[Method] =
    Iterator.iterate[Class[_]](cls)(_.getSuperclass).takeWhile(_ != null).flatMap(_.getDeclaredMethods.iterator)

  private def method(target: AnyRef, name: String, types: Class[_]*): Method = {
    val m = Try(target.getClass.getMethod(name, types: _*)).getOrElse {
      allMethods(target.getClass)
        .find(m => m.getName == name && m.getParameterTypes.sameElements(types))
        .getOrElse(throw new NoSuchMethodException(s"${target.getClass.getName}.$name"))
    }
    m.setAccessible(true)
    m
  }

  private def call(target: AnyRef, name: String, args: AnyRef*): AnyRef = {
    val m =
      if (args.isEmpty) method(target, name)
      else
        (target.getClass.getMethods.iterator ++ allMethods(target.getClass))
          .find(m => m.getName == name && m.getParameterCount == args.length)
          .getOrElse(throw new NoSuchMethodException(s"${target.getClass.getName}.$name"))
    m.setAccessible(true)
    m.invoke(target, args: _*)
  }
}
