package io.github.stopstreaming.fs

import java.util.UUID
import java.util.concurrent.{ConcurrentHashMap, Executors, ScheduledFuture, TimeUnit}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import io.github.stopstreaming.core.{ControlEvent, ControlPlane, ControlPlaneListener, Guarded, Hosts, TrackedQuery}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.slf4j.LoggerFactory

/** Marker-file stop signals on any Hadoop file system. One thread for all directories: each directory is listed once
  * per poll interval and that one listing serves every query watched in it, so the cost on an object store does not
  * grow with the number of queries. Every query registered while a plugin-wide stop directory is set is watched there.
  */
final class MarkerWatcher(
    plane: ControlPlane,
    hadoopConf: Configuration,
    pollIntervalMs: Long,
    controlUrl: () => Option[String]
) extends ControlPlaneListener {
  private val log = LoggerFactory.getLogger(getClass)
  private val thread = Executors.newSingleThreadScheduledExecutor(plane.threads.factory("fs-watch"))
  private val dirs = new ConcurrentHashMap[String, (StopDirectory, ScheduledFuture[_])]()

  /** The plugin-wide stop directory (`fs.stopDir`), once prepared. */
  @volatile private var defaultDir: Option[Path] = None

  /** Resolves a stop directory with the Hadoop FileSystem API and creates it if missing. Throws an
    * `IllegalArgumentException` naming the path when it can never be used (not a path, no file system for its scheme, a
    * file, not creatable), and a [[StopDirUnavailableException]] when the file system failed and may work later.
    */
  def prepare(stopDir: String): Path = {
    val raw =
      try new Path(stopDir)
      catch {
        case NonFatal(e) => throw new IllegalArgumentException(s"'$stopDir' is not a valid path: ${e.getMessage}")
      }
    try {
      val fs = HadoopPaths.fileSystem(raw, hadoopConf)
      val qualified = fs.makeQualified(raw)
      if (!fs.exists(qualified) && !fs.mkdirs(qualified)) {
        throw new IllegalArgumentException(s"cannot create stop directory '$qualified'")
      }
      if (!fs.getFileStatus(qualified).isDirectory) {
        throw new IllegalArgumentException(s"stop directory '$qualified' is a file, not a directory")
      }
      qualified
    } catch {
      case e: IllegalArgumentException => throw e
      case e: org.apache.hadoop.fs.UnsupportedFileSystemException =>
        throw new IllegalArgumentException(s"cannot use stop directory '$stopDir': ${e.getMessage}")
      case NonFatal(e) =>
        throw new StopDirUnavailableException(
          s"stop directory '$stopDir': ${e.getClass.getSimpleName}: ${e.getMessage}"
        )
    }
  }

  @volatile private var permanent: Set[String] = Set.empty

  /** Makes `stopDir` the plugin-wide stop directory: polled for as long as the plugin lives, and every query registered
    * from now on is watched there.
    */
  def watchAll(stopDir: String): Unit =
    try useForAll(prepare(stopDir))
    catch {
      // A store that is down at start-up must not fail the application: retry until it answers.
      case e: StopDirUnavailableException =>
        log.warn(s"${e.getMessage}; queries run on, and the directory is tried again with back-off")
        retryLater(stopDir, pollIntervalMs, new FailureLog(log, s"preparing $stopDir"))
    }

  private def retryLater(stopDir: String, delayMs: Long, failures: FailureLog): Unit =
    thread.schedule(
      (
          () =>
            Guarded.run(log, s"preparing $stopDir") {
              try {
                useForAll(prepare(stopDir))
                failures.recovered()
              } catch {
                case e: StopDirUnavailableException =>
                  failures.failed(e.getMessage)
                  retryLater(stopDir, math.min(delayMs * 2, MarkerWatcher.MaxRetryDelayMs), failures)
              }
            }
      ): Runnable,
      delayMs,
      TimeUnit.MILLISECONDS
    )

  private def useForAll(dir: Path): Unit = {
    permanent += dir.toString
    defaultDir = Some(dir)
    onThread(directory(dir))
    // Queries registered while the directory could not be used yet.
    plane.registry.runningQueries.foreach(watch(_, dir))
  }

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.QueryRegistered(t) => defaultDir.foreach(watch(t, _))
    case ControlEvent.QueryEnded(e) => unwatch(e.id, e.runId)
    case _ => ()
  }

  /** Watches a query's marker in a stop directory of its own (`FileSystemStopConfig`); returns the directory. */
  def watchOwn(t: TrackedQuery, stopDir: String): Path = {
    val dir = prepare(stopDir)
    if (!defaultDir.contains(dir)) watch(t, dir)
    dir
  }

  /** Watches a query in a (prepared) directory: its marker is written, and deleting it stops the query. */
  def watch(t: TrackedQuery, dir: Path): Unit = onThread(directory(dir).watch(t))

  private def directory(dir: Path): StopDirectory =
    dirs
      .computeIfAbsent(
        dir.toString,
        _ => {
          val d =
            new StopDirectory(dir, HadoopPaths.fileSystem(dir, hadoopConf), plane, Hosts.localHostName, controlUrl)
          val task: Runnable = () => Guarded.run(log, s"poll of $dir")(d.poll())
          (d, thread.scheduleWithFixedDelay(task, pollIntervalMs, pollIntervalMs, TimeUnit.MILLISECONDS))
        }
      )
      ._1

  /** A run of a query ended: its markers are removed (a newer run of the same id keeps its own). */
  def unwatch(id: UUID, runId: UUID): Unit = onThread {
    dirs.asScala.toSeq.foreach { case (key, (d, future)) =>
      d.unwatch(id, runId)
      if (d.isEmpty && !permanent.contains(key)) {
        future.cancel(false)
        dirs.remove(key)
        d.close()
      }
    }
  }

  private def onThread(body: => Unit): Unit =
    thread.execute(() => Guarded.run(log, "stop-file watcher task")(body))

  def close(): Unit = {
    thread.shutdownNow()
    // A poll under way ends within its read wait (50 ms) or its listing; the readers are closed after it.
    try thread.awaitTermination(2, TimeUnit.SECONDS)
    catch { case _: InterruptedException => Thread.currentThread().interrupt() }
    dirs.values.asScala.foreach(_._1.close())
  }
}

object MarkerWatcher {
  val MaxRetryDelayMs = 60000L
}

/** A stop directory's file system failed in a way that may pass (an unreachable store, a throttled call). */
final class StopDirUnavailableException(message: String) extends java.io.IOException(message)
