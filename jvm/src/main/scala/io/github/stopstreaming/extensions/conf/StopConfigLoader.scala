package io.github.stopstreaming.extensions.conf

import java.io.File

import scala.util.control.NonFatal

import com.typesafe.config.{Config, ConfigException, ConfigFactory}
import io.github.stopstreaming.core.StopPaths

/** A HOCON stop configuration that cannot be used; the message names the key. */
final class StopConfigException(val key: String, message: String) extends IllegalArgumentException(s"$key: $message")

/** Reads the HOCON block of the stopstreaming 0.x API:
  * {{{
  * stopstreaming {
  *   backend = "rest"            # or "filesystem"
  *   rest { host = "0.0.0.0", port = 8558, stop-path = "/stop" }
  *   filesystem { stop-dir = "/tmp/stopstreaming", fs-type = "LocalFileSystem" }   # or DBFS
  * }
  * }}}
  */
object StopConfigLoader {

  /** From `application.conf` (and the other standard sources) on the classpath. */
  def load(): StopConfig = fromConfig(wrap("application.conf")(ConfigFactory.load()), "application.conf")

  /** From one HOCON file. */
  def load(path: String): StopConfig = {
    val f = new File(path)
    if (!f.isFile) throw new StopConfigException("stopstreaming", s"no such file: $path")
    fromConfig(wrap(path)(ConfigFactory.parseFile(f).resolve()), path)
  }

  private def wrap(source: String)(body: => Config): Config =
    try body
    catch {
      case e: ConfigException =>
        throw new StopConfigException(Option(e.origin).map(_.description).getOrElse(source), e.getMessage)
    }

  private def fromConfig(root: Config, source: String): StopConfig = {
    def key(k: String) = s"stopstreaming.$k"
    def opt[A](k: String)(get: String => A): Option[A] =
      try if (root.hasPath(key(k))) Some(get(key(k))) else None
      catch {
        case e: ConfigException.WrongType =>
          throw new StopConfigException(key(k), s"wrong type in $source: ${e.getMessage}")
        case NonFatal(e) => throw new StopConfigException(key(k), s"${e.getMessage} (in $source)")
      }

    if (!root.hasPath("stopstreaming"))
      throw new StopConfigException("stopstreaming", s"no stopstreaming block in $source")
    opt("backend")(root.getString).map(_.trim.toLowerCase) match {
      case Some("rest") =>
        val port = opt("rest.port")(root.getInt).getOrElse(RestStopConfig.DefaultPort)
        if (port < 0 || port > 65535) throw new StopConfigException(key("rest.port"), s"$port is outside 0..65535")
        val path = opt("rest.stop-path")(root.getString).getOrElse(RestStopConfig.DefaultStopPath)
        StopPaths.check(path).left.foreach(m => throw new StopConfigException(key("rest.stop-path"), m))
        RestStopConfig(opt("rest.host")(root.getString).getOrElse(RestStopConfig.DefaultHost), port, path)
      case Some("filesystem") =>
        val dir = opt("filesystem.stop-dir")(root.getString)
          .filter(_.trim.nonEmpty)
          .getOrElse(throw new StopConfigException(key("filesystem.stop-dir"), s"missing in $source"))
        val fsType = opt("filesystem.fs-type")(root.getString)
          .map(s =>
            FsType
              .fromString(s)
              .getOrElse(
                throw new StopConfigException(key("filesystem.fs-type"), s"'$s' is not LocalFileSystem or DBFS")
              )
          )
          .getOrElse(FsType.LocalFileSystem)
        FileSystemStopConfig(dir, fsType)
      case Some(other) => throw new StopConfigException(key("backend"), s"'$other' is not rest or filesystem")
      case None => throw new StopConfigException(key("backend"), s"missing in $source")
    }
  }
}
