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

  /** From `name`: a resource on the class path (as 0.x read it, with `ConfigFactory.load(name)`, so a file kept in
    * `src/main/resources` works), else a file path, else any Hadoop URI (`dbfs:/`, `s3a://`, `abfss://`, ...).
    */
  def load(name: String): StopConfig = {
    val loader = Option(Thread.currentThread.getContextClassLoader).getOrElse(getClass.getClassLoader)
    if (name != null && loader.getResource(name) != null)
      fromConfig(wrap(name)(ConfigFactory.load(loader, name)), s"classpath:$name")
    else if (name != null && new File(name).isFile)
      fromConfig(wrap(name)(ConfigFactory.parseFile(new File(name)).resolve()), name)
    else if (name != null && name.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*"))
      fromConfig(wrap(name)(ConfigFactory.parseString(readHadoop(name)).resolve()), name)
    else
      throw new StopConfigException(
        "stopstreaming",
        s"'$name' is neither a resource on the class path, nor a file, nor a Hadoop URI"
      )
  }

  /** The text of a file on any Hadoop file system, read with the running Spark's Hadoop conf when there is one. */
  private def readHadoop(uri: String): String = {
    val conf = org.apache.spark.sql.SparkSession.getActiveSession
      .map(_.sparkContext.hadoopConfiguration)
      .getOrElse(new org.apache.hadoop.conf.Configuration())
    try {
      val path = new org.apache.hadoop.fs.Path(uri)
      val in = path.getFileSystem(conf).open(path)
      try new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
      finally in.close()
    } catch {
      case NonFatal(e) =>
        throw new StopConfigException(
          "stopstreaming",
          s"cannot read $uri: ${e.getClass.getSimpleName}: ${e.getMessage}"
        )
    }
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
