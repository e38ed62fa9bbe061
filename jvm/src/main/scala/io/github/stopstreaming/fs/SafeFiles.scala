package io.github.stopstreaming.fs

import java.io.IOException
import java.nio.file.{Files, LinkOption}
import java.util.UUID

import scala.util.control.NonFatal

import org.apache.hadoop.fs.{
  FileContext,
  FileStatus,
  FileSystem,
  Options,
  Path,
  RawLocalFileSystem,
  UnsupportedFileSystemException
}

/** How stopstreaming reads and writes the small files of a stop directory, so that a local directory shared with other
  * users cannot be turned against it: only regular files are read (never a symlink, a FIFO that would block the one
  * watcher thread, or a directory named like a stop file), and a file is written beside its target and renamed into
  * place, so it is never seen half-written and a symlink planted at the target is replaced, not followed.
  */
object SafeFiles {

  private def localFile(fs: FileSystem, p: Path): Option[java.nio.file.Path] = fs match {
    case local: RawLocalFileSystem => Some(local.pathToFile(p).toPath)
    case _ => None
  }

  /** Whether a listed entry is a regular file we may open (object stores have nothing else). */
  def isRegularFile(fs: FileSystem, st: FileStatus): Boolean =
    localFile(fs, st.getPath) match {
      case Some(local) => Files.isRegularFile(local, LinkOption.NOFOLLOW_LINKS)
      case None => st.isFile
    }

  /** Writes `bytes` to `target` whole: a hidden temporary file beside it, flushed to disk, then renamed over it. */
  def writeWhole(fs: FileSystem, target: Path, bytes: Array[Byte]): Unit = {
    val tmp = new Path(target.getParent, s".${target.getName}.${UUID.randomUUID()}.tmp")
    val out = fs.create(tmp, false)
    try {
      out.write(bytes)
      try out.hsync()
      catch { case _: UnsupportedOperationException => out.hflush() }
    } catch {
      case NonFatal(e) =>
        out.close()
        deleteQuietly(fs, tmp)
        throw e
    }
    out.close()
    try replace(fs, tmp, target)
    catch { case NonFatal(e) => deleteQuietly(fs, tmp); throw e }
  }

  /** Renames `tmp` over `target` in one step where the file system can: rename(2) locally, an overwriting rename
    * through `FileContext` elsewhere (HDFS, and the stores that offer it). Only a store with neither gets the old file
    * removed first.
    */
  private def replace(fs: FileSystem, tmp: Path, target: Path): Unit =
    localFile(fs, target) match {
      case Some(local) =>
        Files.move(localFile(fs, tmp).get, local, java.nio.file.StandardCopyOption.ATOMIC_MOVE)
      case None =>
        try FileContext.getFileContext(target.toUri, fs.getConf).rename(tmp, target, Options.Rename.OVERWRITE)
        catch {
          case _: UnsupportedFileSystemException =>
            if (fs.exists(target)) fs.delete(target, false)
            if (!fs.rename(tmp, target)) throw new IOException(s"rename of $tmp to $target failed")
        }
    }

  def deleteQuietly(fs: FileSystem, p: Path): Unit =
    try fs.delete(p, false)
    catch { case NonFatal(_) => () }
}
