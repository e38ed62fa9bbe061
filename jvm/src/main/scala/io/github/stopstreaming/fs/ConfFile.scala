package io.github.stopstreaming.fs

import java.io.{ByteArrayOutputStream, IOException}
import java.time.Instant
import java.util.UUID

import scala.util.control.NonFatal

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.{ConfPersistence, ConfSnapshot}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileContext, Options, Path, RawLocalFileSystem}

/** The persistence file of the dynamic configuration, on any Hadoop file system. Each change is written to a temporary
  * file beside it and renamed over it, so the file is always a whole version: a failed write leaves the previous one as
  * it was.
  */
final class ConfFile(val path: Path, hadoopConf: Configuration) extends ConfPersistence {
  private val fs = HadoopPaths.fileSystem(path, hadoopConf)

  def location: String = path.toString

  /** The stored snapshot, None when the file does not exist; a corrupt file is an error naming it. */
  def read(): Option[ConfSnapshot] = {
    val text =
      try {
        if (!fs.exists(path)) return None
        val in = fs.open(path)
        try {
          val out = new ByteArrayOutputStream(); in.transferTo(out); out.toString("UTF-8")
        } finally in.close()
      } catch {
        case NonFatal(e) => throw new IOException(s"cannot read dynamic configuration file $path: ${e.getMessage}", e)
      }
    try Some(Json.readConf(text))
    catch {
      case NonFatal(e) =>
        throw new IOException(
          s"dynamic configuration file $path is corrupt (${e.getClass.getSimpleName}: ${e.getMessage})",
          e
        )
    }
  }

  def write(s: ConfSnapshot): Unit = {
    val body = Json.conf(s)
    val tmp = new Path(path.getParent, s".${path.getName}.${UUID.randomUUID()}.tmp")
    val out = fs.create(tmp, false)
    try out.write(Json.bytes(body))
    catch { case NonFatal(e) => out.close(); fs.delete(tmp, false); throw e }
    out.close()
    try rename(tmp)
    catch {
      case NonFatal(e) =>
        try fs.delete(tmp, false)
        catch { case NonFatal(_) => () }; throw e
    }
  }

  /** Replaces the file in one step where the file system can (FileContext), else as close as it can. */
  private def rename(tmp: Path): Unit = fs match {
    // rename(2) replaces the target atomically on the local file system.
    case local: RawLocalFileSystem =>
      if (!local.rename(tmp, path)) throw new IOException(s"rename of $tmp to $path failed")
    case _ => renameOverwriting(tmp)
  }

  private def renameOverwriting(tmp: Path): Unit =
    try FileContext.getFileContext(path.toUri, hadoopConf).rename(tmp, path, Options.Rename.OVERWRITE)
    catch {
      case _: org.apache.hadoop.fs.UnsupportedFileSystemException =>
        if (fs.exists(path)) fs.delete(path, false)
        if (!fs.rename(tmp, path)) throw new IOException(s"rename of $tmp to $path failed")
    }
}
