package io.github.stopstreaming.fs

import java.io.{ByteArrayOutputStream, IOException}

import scala.util.control.NonFatal

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.{ConfPersistence, ConfSnapshot}
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path

/** The persistence file of the dynamic configuration, on any Hadoop file system. Each change is written to a temporary
  * file beside it, flushed to disk and renamed over it ([[SafeFiles.writeWhole]]), so the file is always a whole
  * version: a failed write leaves the previous one as it was, and there is no moment without a file.
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
    if (text.trim.isEmpty) throw new IOException(s"dynamic configuration file $path is empty")
    try Some(Json.readConf(text))
    catch {
      case NonFatal(e) =>
        throw new IOException(
          s"dynamic configuration file $path is corrupt (${e.getClass.getSimpleName}: ${e.getMessage})",
          e
        )
    }
  }

  /** Replaces the file with `s`, whole: written beside it, flushed to disk, renamed over it. */
  def write(s: ConfSnapshot): Unit = SafeFiles.writeWhole(fs, path, Json.bytes(Json.conf(s)))
}
