package io.github.stopstreaming.fs

import java.io.FileNotFoundException
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import io.github.stopstreaming.core.{ControlPlane, Lookup, SafeText, StopOutcome, StopRequest, StopSource, TrackedQuery}
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
  // Well-formed stop files of other drivers' queries, with what the listing saw of them when they were read.
  private var checkedForeign = Map.empty[String, (Long, Long)]

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

  private val markerFailures = new FailureLog(log, s"writing markers in $dir")

  private def createMarker(w: Watched): Unit =
    try {
      SafeFiles.writeWhole(fs, w.path, MarkerFiles.markerJson(w.query, driverHost, controlUrl(), plane.settings.token))
      w.created = true
      markerFailures.recovered()
    } catch {
      case NonFatal(e) => markerFailures.failed(s"${w.path} (will retry): ${e.getMessage}")
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
      .filter(st => st.getPath.getName.endsWith(MarkerFiles.StopSuffix) && !st.getPath.getName.startsWith("."))
      .filter(st => SafeFiles.isRegularFile(fs, st))
      .map(st => st.getPath.getName -> (st.getLen, st.getModificationTime))
      .toMap
    stopFiles.foreach { case (name, seen) =>
      // One file whose name or content trips something must not cost the others, or the markers below.
      if (lastStopFiles.get(name).contains(seen))
        try handleStopFile(name, seen)
        catch { case NonFatal(e) => fileFailures.failed(SafeText.text(s"$name: $e")) }
    }
    reader.endPoll()
    lastStopFiles = stopFiles
    checkedForeign = checkedForeign.filter { case (name, _) => stopFiles.contains(name) }
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

  /** A `<name or id>.stop` file. Several drivers may share one directory, so a file that names no query of this driver
    * is left alone for the driver that runs it. It is removed, with an `.error` file beside it saying why, only when no
    * driver could ever act on it (bad content, or not a name) or when this driver owns the name and refuses it.
    */
  private def handleStopFile(fileName: String, seen: (Long, Long)): Unit = {
    val target = fileName.stripSuffix(MarkerFiles.StopSuffix)
    val path = child(fileName)
    val ours = !isPlainName(target) || plane.registry.lookup(target) != Lookup.NotFound
    // Another driver's file is read once while it stays the same: only to refuse bad content.
    if (!ours && checkedForeign.get(fileName).contains(seen)) return
    val content =
      try
        reader
          .read(fileName, path)
          .getOrElse(
            return
          ) // still being read: looked at again on the next poll
      catch {
        case NonFatal(e) =>
          readFailures.failed(SafeText.text(s"$path (will retry): ${e.getMessage}")); return
      }
    content match {
      case Left(why) => readFailures.failed(SafeText.text(s"$path: $why"))
      case Right(_) => readFailures.recovered()
    }
    val request = content.flatMap(MarkerFiles.parseStopFile)
    // Another driver's file, or one this driver cannot read: not this driver's to remove.
    if (!ours && (request.isRight || content.isLeft)) { checkedForeign += fileName -> seen; return }
    val outcome = request match {
      case Left(why) => Some(s"rejected: $why")
      case Right(_) if !isPlainName(target) => Some(s"rejected: '$target' is not a query id or name")
      case Right(req) =>
        plane.requestStop(target, req, StopSource.File) match {
          case StopOutcome.NotFound => return // it ended just now, or another driver runs it: leave the file
          case StopOutcome.Ambiguous(matches) =>
            Some(
              s"rejected: ${matches.size} running queries are named '$target' " +
                s"(ids ${matches.map(_.id).mkString(", ")}); name one by id"
            )
          case _ => None
        }
    }
    // The stop file goes first, so whoever sees the error file finds the request handled.
    try fs.delete(path, false)
    catch { case NonFatal(e) => log.warn(s"could not remove handled stop file ${SafeText.name(path.toString)}: $e") }
    outcome.map(SafeText.text).foreach { why =>
      val shown = SafeText.name(path.toString)
      log.warn(s"stop file $shown $why")
      try SafeFiles.writeWhole(fs, child(fileName + ".error"), (why + "\n").getBytes("UTF-8"))
      catch { case NonFatal(e) => log.warn(s"could not write $shown.error: ${e.getMessage}") }
    }
  }

  private val readFailures = new FailureLog(log, s"reading stop files in $dir")
  private val fileFailures = new FailureLog(log, s"handling a stop file in $dir")

  /** `dir/name` for any name a listing can return: `new Path(dir, name)` takes a colon in `name` for a scheme. */
  private def child(name: String): Path = {
    val u = dir.toUri
    new Path(u.getScheme, u.getAuthority, u.getPath.stripSuffix("/") + "/" + name)
  }
  private val reader = new StopFileReader(
    fs,
    plane.threads,
    StopDirectory.ReadWaitMs,
    if (fs.isInstanceOf[org.apache.hadoop.fs.RawLocalFileSystem]) StopDirectory.LocalReadDeadlineMs
    else StopDirectory.ReadDeadlineMs
  )

  private def isPlainName(s: String): Boolean = s.nonEmpty && !s.startsWith(".") && !s.exists(_.isControl)

  def close(): Unit = reader.close()
}

object StopDirectory {

  /** How long one poll waits for a stop file's content before looking again on the next poll. */
  val ReadWaitMs = 50L

  /** How long a read of a stop file may take before it is given up (a store that hangs). */
  val ReadDeadlineMs = 10000L

  /** The same on a local disk, where a longer read is a FIFO or a device, not a slow store. */
  val LocalReadDeadlineMs = 1000L
}
