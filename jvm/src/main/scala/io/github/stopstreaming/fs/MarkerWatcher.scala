package io.github.stopstreaming.fs

import java.util.UUID
import java.util.concurrent.{ConcurrentHashMap, Executors, ScheduledFuture, TimeUnit}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import io.github.stopstreaming.control.{ControlPlane, TrackedQuery}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.slf4j.LoggerFactory

/** Marker-file stop signals on any Hadoop file system. One thread for all directories: each directory is listed once
  * per poll interval and that one listing serves every query watched in it, so the cost on an object store does not
  * grow with the number of queries.
  */
final class MarkerWatcher(plane: ControlPlane, hadoopConf: Configuration, pollIntervalMs: Long) {
  private val log = LoggerFactory.getLogger(getClass)
  private val thread = Executors.newSingleThreadScheduledExecutor(plane.threads.factory("fs-watch"))
  private val dirs = new ConcurrentHashMap[String, (StopDirectory, ScheduledFuture[_])]()
  private val driverHost =
    try java.net.InetAddress.getLocalHost.getHostName
    catch { case NonFatal(_) => "unknown" }

  /** Resolves a stop directory with the Hadoop FileSystem API and creates it if missing. Throws an
    * `IllegalArgumentException` naming the path when it cannot be used.
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
      case NonFatal(e) =>
        throw new IllegalArgumentException(
          s"cannot use stop directory '$stopDir': ${e.getClass.getSimpleName}: ${e.getMessage}"
        )
    }
  }

  @volatile private var permanent: Set[String] = Set.empty

  /** Polls a (prepared) directory for as long as the plugin lives, watched queries or not. */
  def keepPolling(dir: Path): Unit = {
    permanent += dir.toString
    onThread(directory(dir))
  }

  /** Watches a query in a (prepared) directory: its marker is written, and deleting it stops the query. */
  def watch(t: TrackedQuery, dir: Path): Unit = onThread(directory(dir).watch(t))

  private def directory(dir: Path): StopDirectory =
    dirs
      .computeIfAbsent(
        dir.toString,
        _ => {
          val d = new StopDirectory(dir, HadoopPaths.fileSystem(dir, hadoopConf), plane, driverHost)
          val task: Runnable = () =>
            try d.poll()
            catch { case NonFatal(e) => log.warn(s"poll of $dir failed", e) }
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
      }
    }
  }

  /** How many directories are being polled. */
  def directoryCount: Int = dirs.size

  private def onThread(body: => Unit): Unit =
    thread.execute { () =>
      try body
      catch { case NonFatal(e) => log.warn("stop-file watcher task failed", e) }
    }

  def close(): Unit = thread.shutdownNow()
}
