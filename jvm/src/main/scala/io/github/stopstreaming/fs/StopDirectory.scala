package io.github.stopstreaming.fs

import java.io.FileNotFoundException
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import io.github.stopstreaming.core.{ControlPlane, StopOutcome, StopRequest, StopSource, TrackedQuery}
import org.apache.hadoop.fs.{FileSystem, Path}
import org.slf4j.LoggerFactory

/** One stop directory and the queries watched in it. Every method runs on the watcher's single thread, so one poll is
  * one listing of the directory, whatever the number of queries.
  *
  * Deleting `<dir>/<query id>` stops that query; creating `<dir>/<name or id>.stop` does too, with the options in its
  * content. A marker counts as deleted only when a listing that succeeded lacks it *and* a direct check of its path
  * says it is gone: a failed, throttled or empty-because- the-directory-vanished listing never stops anything.
  */
final class StopDirectory(
    val dir: Path,
    val fs: FileSystem,
    plane: ControlPlane,
    driverHost: String,
    controlUrl: () => Option[String]
) {
  private val log = LoggerFactory.getLogger(getClass)

  private final class Watched(val query: TrackedQuery) {
    @volatile var created = false
    val path = new Path(dir, query.id.toString)
  }

  private val watched = new ConcurrentHashMap[UUID, Watched]()
  private val failures = new FailureLog(log, s"listing of stop directory $dir")
  // Stop files of the previous listing, with what it saw of them; only this thread touches it.
  private var lastStopFiles = Map.empty[String, (Long, Long)]

  def isEmpty: Boolean = watched.isEmpty

  /** Starts watching a query: its marker is written now (and retried on later polls if that fails). */
  def watch(t: TrackedQuery): Unit = {
    val w = new Watched(t)
    watched.put(t.id, w)
    createMarker(w)
  }

  /** The run `runId` of query `id` has ended: its marker goes, unless a newer run owns it now. */
  def unwatch(id: UUID, runId: UUID): Unit = Option(watched.get(id)).foreach { w =>
    if (w.query.runId == runId) {
      watched.remove(id)
      if (w.created) {
        try fs.delete(w.path, false)
        catch { case NonFatal(e) => log.warn(s"could not remove marker ${w.path}: ${e.getMessage}") }
      }
    }
  }

  private def createMarker(w: Watched): Unit =
    try {
      val out = fs.create(w.path, true)
      try out.write(MarkerFiles.markerJson(w.query, driverHost, controlUrl()))
      finally out.close()
      w.created = true
    } catch {
      case NonFatal(e) => log.warn(s"could not write marker ${w.path} (will retry): ${e.getMessage}")
    }

  /** One poll: one listing, then only the checks that listing calls for. */
  def poll(): Unit = {
    val listing =
      try {
        val l = fs.listStatus(dir)
        failures.recovered()
        l
      } catch {
        case e: FileNotFoundException => failures.failed(s"the directory is missing (${e.getMessage})"); return
        case NonFatal(e) => failures.failed(s"${e.getClass.getSimpleName}: ${e.getMessage}"); return
      }
    val names = listing.iterator.map(_.getPath.getName).toSet
    // A stop file is handled once two listings in a row saw it the same (length and time), so a
    // file still being written is never read half-way.
    val stopFiles = listing
      .filter(_.getPath.getName.endsWith(MarkerFiles.StopSuffix))
      .map(st => st.getPath.getName -> (st.getLen, st.getModificationTime))
      .toMap
    stopFiles.foreach { case (name, seen) => if (lastStopFiles.get(name).contains(seen)) handleStopFile(name) }
    lastStopFiles = stopFiles
    watched.values.asScala.foreach { w =>
      if (!w.created) createMarker(w)
      else if (!names.contains(w.path.getName) && w.query.isRunning && confirmedGone(w.path)) {
        watched.remove(w.query.id)
        log.info(s"marker ${w.path} was deleted: stopping query ${w.query.id}")
        plane.requestStop(w.query.id.toString, StopRequest.Default, StopSource.File)
      }
    }
  }

  private def confirmedGone(p: Path): Boolean =
    try !fs.exists(p)
    catch { case NonFatal(e) => log.warn(s"could not confirm that $p is gone: ${e.getMessage}"); false }

  private def handleStopFile(fileName: String): Unit = {
    val target = fileName.stripSuffix(MarkerFiles.StopSuffix)
    val path = new Path(dir, fileName)
    val content =
      try readLimited(path)
      catch { case NonFatal(e) => log.warn(s"could not read $path (will retry): ${e.getMessage}"); return }
    val outcome = content.flatMap(MarkerFiles.parseStopFile) match {
      case Left(why) => Some(s"rejected: $why")
      case Right(_) if !isPlainName(target) =>
        Some(s"rejected: '$target' is not a query id or name")
      case Right(req) =>
        plane.requestStop(target, req, StopSource.File) match {
          case StopOutcome.NotFound => Some(s"rejected: no query with id or name '$target'")
          case StopOutcome.Ambiguous(matches) =>
            Some(
              s"rejected: ${matches.size} running queries are named '$target' (ids ${matches.map(_.id).mkString(", ")}); name one by id"
            )
          case _ => None
        }
    }
    // The stop file goes first, so whoever sees the error file finds the request handled.
    try fs.delete(path, false)
    catch { case NonFatal(e) => log.warn(s"could not remove handled stop file $path: ${e.getMessage}") }
    outcome.foreach { why =>
      log.warn(s"stop file $path $why")
      writeQuietly(new Path(dir, fileName + ".error"), why + "\n")
    }
  }

  private def isPlainName(s: String): Boolean = s.nonEmpty && !s.startsWith(".") && !s.exists(_.isControl)

  private def readLimited(p: Path): Either[String, Array[Byte]] = {
    val in = fs.open(p)
    try {
      val bytes = in.readNBytes(MarkerFiles.MaxStopFileBytes + 1)
      if (bytes.length > MarkerFiles.MaxStopFileBytes) Left(s"larger than ${MarkerFiles.MaxStopFileBytes} bytes")
      else Right(bytes)
    } finally in.close()
  }

  private def writeQuietly(p: Path, text: String): Unit =
    try {
      val out = fs.create(p, true)
      try out.write(text.getBytes("UTF-8"))
      finally out.close()
    } catch { case NonFatal(_) => () }
}

/** Logs a repeating failure at the 1st, 2nd, 4th, 8th... occurrence, and once when it ends. */
final class FailureLog(log: org.slf4j.Logger, what: String) {
  private var count = 0L

  def failed(why: String): Unit = {
    count += 1
    if ((count & (count - 1)) == 0) {
      log.warn(s"$what failed ($count time(s) in a row; no query is stopped because of it): $why")
    }
  }

  def recovered(): Unit = {
    if (count > 0) log.info(s"$what works again after $count failure(s)")
    count = 0
  }
}
