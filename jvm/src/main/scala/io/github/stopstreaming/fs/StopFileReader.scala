package io.github.stopstreaming.fs

import java.nio.file.{Files, LinkOption, StandardOpenOption}
import java.util.concurrent.{ExecutorService, Executors, Future, TimeUnit, TimeoutException}
import java.util.concurrent.atomic.AtomicInteger

import scala.util.control.NonFatal

import io.github.stopstreaming.core.NamedThreads
import org.apache.hadoop.fs.{FileSystem, Path, RawLocalFileSystem}

/** Reads the stop files of one directory off the watcher thread, with a deadline, so that no file can hang the watcher:
  * a FIFO or a device swapped in between the listing and the open blocks `open()` itself, before any type check can
  * run. The watcher waits for a read at most `waitMs`; a read still running then is given up at once when the path is
  * no longer a regular file, else looked at again on later polls and given up after `deadlineMs` (a hung store). A
  * thread stuck in a read that was given up is left behind (the JDK cannot interrupt an `open()`), and a FIFO's writer
  * end is opened once to release it; at most [[StopFileReader.MaxStuck]] are left behind per directory, after which
  * this directory's stop files wait until one comes back. Other directories, and markers, are never affected.
  */
final class StopFileReader(fs: FileSystem, threads: NamedThreads, waitMs: Long, deadlineMs: Long) {
  import StopFileReader._

  private val stuck = new AtomicInteger()
  private var executor: ExecutorService = newExecutor()
  // Reads under way, by file name, with when they began; only the watcher thread touches it.
  private var running = Map.empty[String, (Future[Either[String, Array[Byte]]], Long)]

  private def newExecutor(): ExecutorService = Executors.newSingleThreadExecutor(threads.factory("fs-read"))

  /** The content of a stop file (Left: why it cannot be used), or None while the read is still under way. */
  def read(name: String, path: Path, now: Long = System.currentTimeMillis()): Option[Either[String, Array[Byte]]] = {
    val (future, began) = running.getOrElse(
      name, {
        if (stuck.get >= MaxStuck) throw new java.io.IOException(s"$MaxStuck reads are stuck on FIFOs swapped in")
        val f = executor.submit(() => readLimited(path))
        running += name -> (f, now)
        (f, now)
      }
    )
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
        running -= name
        abandon(path)
        Some(Left(s"could not be read within ${deadlineMs / 1000} s"))
      case e: java.util.concurrent.ExecutionException =>
        running -= name
        val c = Option(e.getCause).getOrElse(e)
        throw c
    }
  }

  /** Forgets reads of files no longer listed. */
  def retain(names: Set[String]): Unit = running = running.filter { case (n, _) => names.contains(n) }

  /** The reader thread is stuck: a new one takes over, and the old one is released if the path is a FIFO. */
  private def abandon(path: Path): Unit = {
    val old = executor
    executor = newExecutor()
    stuck.incrementAndGet()
    old.execute(() => stuck.decrementAndGet()) // runs once the stuck read returns
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

  def close(): Unit = executor.shutdownNow()
}

object StopFileReader {

  /** Reader threads left stuck per directory before its stop files wait. A stuck read waits on a FIFO that was swapped
    * in and then replaced: only someone who can write the directory can do that, and such a user can delete stop files
    * anyway; the bound keeps them from costing the driver more than these threads.
    */
  val MaxStuck = 16
}
