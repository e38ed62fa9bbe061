package io.github.stopstreaming.fs

import java.nio.file.{Files, LinkOption, StandardOpenOption}
import java.util.concurrent.{
  ExecutionException,
  ExecutorService,
  Executors,
  Future,
  RejectedExecutionException,
  TimeUnit,
  TimeoutException
}
import java.util.concurrent.atomic.AtomicInteger

import scala.util.control.NonFatal

import io.github.stopstreaming.core.NamedThreads
import org.apache.hadoop.fs.{FileSystem, Path, RawLocalFileSystem}

/** Reads the stop files of one directory off the watcher thread, with a deadline, so that no file can hang the watcher:
  * a FIFO or a device swapped in between the listing and the open blocks `open()` itself, before any type check can
  * run.
  *
  * One read runs at a time and lives only while each poll asks for it, so no read is ever queued behind one that may
  * never return: the next file is read once the current read returns or is given up. The watcher waits for a read at
  * most `waitMs` per poll. A read still running then is given up at once when the path is no longer a regular file or
  * the next poll does not ask for it (its file is gone or changed; see [[endPoll]]); otherwise it is looked at again on
  * later polls, and after `deadlineMs` (a hung store) it no longer holds up the other files: its content is used if it
  * comes while the file stays the same. A thread stuck in a read that was given up is left behind (the JDK cannot
  * interrupt an `open()`), and a FIFO's writer end is opened once to release it. At most [[StopFileReader.MaxStuck]]
  * are left behind per directory, after which this directory's stop files wait until one comes back. Other directories,
  * and markers, are never affected.
  */
final class StopFileReader(fs: FileSystem, threads: NamedThreads, waitMs: Long, deadlineMs: Long) {
  import StopFileReader._

  private val stuck = new AtomicInteger()
  @volatile private var executor: ExecutorService = newExecutor()
  // The read under way (at most one), by file name; only the watcher thread touches these.
  private var running = Map.empty[String, Read]
  // Reads given up at their deadline while their file stays listed the same: the result is used once they return,
  // rather than reading the file again on a new thread each time (a slow store would never be read).
  private var late = Map.empty[String, Read]
  // The files asked for in this poll.
  private var asked = Set.empty[String]

  private def newExecutor(): ExecutorService = Executors.newSingleThreadExecutor(threads.factory("fs-read"))

  /** The content of a stop file (Left: why it cannot be used), or None while it is being read or waits its turn. Throws
    * when it cannot be read now but may be later (a read that hung, too many stuck readers).
    */
  def read(name: String, path: Path, now: Long = System.currentTimeMillis()): Option[Either[String, Array[Byte]]] = {
    asked += name
    late.get(name).foreach { r =>
      if (!r.future.isDone)
        throw new java.io.IOException(
          s"has been read for over ${deadlineMs / 1000} s (a store that hangs?); its content is used once it comes"
        )
      late -= name
      return Some(result(r.future))
    }
    val read @ Read(future, began, _) = running.get(name) match {
      case Some(r) => r
      case None if running.nonEmpty => return None // another file's read is under way: this one waits its turn
      case None =>
        if (stuck.get >= MaxStuck) throw new java.io.IOException(s"$MaxStuck reads are stuck on FIFOs swapped in")
        val r = Read(executor.submit(() => readLimited(path)), now, path)
        running += name -> r
        r
    }
    val left = if (now - began >= deadlineMs) 0L else waitMs
    try {
      val r = future.get(left, TimeUnit.MILLISECONDS)
      running -= name
      Some(r)
    } catch {
      case _: TimeoutException if notRegular(path) =>
        running -= name
        abandon(path)
        Some(Left("is not a regular file (a FIFO or a device?)"))
      case _: TimeoutException if now - began < deadlineMs => None
      case _: TimeoutException =>
        // The next file gets a thread of its own; this one's content is used if it comes while the file stays.
        running -= name
        late += name -> read
        abandon(path)
        throw new java.io.IOException(s"could not be read within ${deadlineMs / 1000} s; waiting for the read")
      case _: ExecutionException =>
        running -= name
        Some(result(future))
    }
  }

  private def result(f: Future[Either[String, Array[Byte]]]): Either[String, Array[Byte]] =
    try f.get()
    catch { case e: ExecutionException => throw Option(e.getCause).getOrElse(e) }

  /** Ends a poll: a read that this poll did not ask for again is forgotten (its file is gone, has changed or is no
    * longer a regular file), and given up if it is still running, for its thread may never return (a FIFO swapped in
    * and out again) and the next file must not wait for it.
    */
  def endPoll(): Unit = {
    val (kept, dropped) = running.partition { case (n, _) => asked.contains(n) }
    running = kept
    late = late.filter { case (n, _) => asked.contains(n) }
    asked = Set.empty
    dropped.values.foreach(r => if (!r.future.isDone) abandon(r.path))
  }

  /** The reader thread is stuck: a new one takes over, and the old one is released if the path is a FIFO. */
  private def abandon(path: Path): Unit = {
    val old = executor
    executor = newExecutor()
    stuck.incrementAndGet()
    try old.execute(() => stuck.decrementAndGet()) // runs once the stuck read returns
    catch { case _: RejectedExecutionException => () } // closed: the driver is going down
    old.shutdown()
    local(path).foreach { p =>
      val t = new Thread(() => release(p), s"${NamedThreads.Prefix}fs-release")
      t.setDaemon(true)
      t.start()
    }
  }

  /** Gives a reader stuck on the FIFO at `p` (or behind a link at `p`) a writer: opened read-write, a FIFO opens at
    * once on Linux, and the stuck `open()` returns. Nothing is written.
    */
  private def release(p: java.nio.file.Path): Unit =
    try {
      val target = if (Files.isSymbolicLink(p)) p.resolveSibling(Files.readSymbolicLink(p)) else p
      // A FIFO only (S_IFIFO): opening a device could have effects of its own.
      val mode = Files.getAttribute(target, "unix:mode", LinkOption.NOFOLLOW_LINKS).asInstanceOf[Int]
      if ((mode & 0xf000) == 0x1000)
        Files
          .newByteChannel(target, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)
          .close()
    } catch { case NonFatal(_) => () }

  /** A local path that is now something else than a regular file (object stores hold nothing else). */
  private def notRegular(p: Path): Boolean =
    local(p).exists(l => !Files.isRegularFile(l, LinkOption.NOFOLLOW_LINKS))

  private def local(p: Path): Option[java.nio.file.Path] = fs match {
    case l: RawLocalFileSystem => Some(l.pathToFile(p).toPath)
    case _ => None
  }

  private def readLimited(p: Path): Either[String, Array[Byte]] = {
    val in = fs.open(p)
    try {
      val bytes = in.readNBytes(MarkerFiles.MaxStopFileBytes + 1)
      if (bytes.length > MarkerFiles.MaxStopFileBytes) Left(s"larger than ${MarkerFiles.MaxStopFileBytes} bytes")
      else Right(bytes)
    } finally in.close()
  }

  /** Reader threads given up and not come back yet. */
  private[fs] def stuckReads: Int = stuck.get

  def close(): Unit = executor.shutdownNow()
}

object StopFileReader {

  private final case class Read(future: Future[Either[String, Array[Byte]]], began: Long, path: Path)

  /** Reader threads left stuck per directory before its stop files wait. A stuck read waits on a FIFO that was swapped
    * in and then replaced: only someone who can write the directory can do that, and such a user can delete stop files
    * anyway; the bound keeps them from costing the driver more than these threads.
    */
  val MaxStuck = 16
}
