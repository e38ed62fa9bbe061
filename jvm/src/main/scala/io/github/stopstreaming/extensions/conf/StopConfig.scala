package io.github.stopstreaming.extensions.conf

import io.github.stopstreaming.core.Settings

/** Where a query listens for its external stop signal (as in the stopstreaming 0.x API). */
sealed trait StopConfig

/** Stop over HTTP: `POST http://<host>:<port><stopPath>/<query.id>`. Queries that name the same port share one server.
  * Without a token configured, the default host `0.0.0.0` is narrowed to loopback (see docs/security.md); any other
  * host is used as given.
  */
final case class RestStopConfig(
    host: String = RestStopConfig.DefaultHost,
    port: Int = RestStopConfig.DefaultPort,
    stopPath: String = RestStopConfig.DefaultStopPath
) extends StopConfig

object RestStopConfig {
  val DefaultHost = "0.0.0.0"
  // The plugin's own defaults (rest.port, rest.stopPath), which were also the 0.x library's.
  val DefaultPort: Int = Settings.DefaultPort
  val DefaultStopPath: String = Settings.DefaultStopPath
}

/** Stop by deleting the marker file `<stopDir>/<query.id>`. */
final case class FileSystemStopConfig(stopDir: String, fsType: FsType = FsType.LocalFileSystem) extends StopConfig {

  /** The stop directory as a Hadoop path: a path with a scheme is used as it is. */
  def resolvedStopDir: String =
    if (stopDir.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*")) stopDir
    else
      fsType match {
        case FsType.LocalFileSystem => "file:" + stopDir
        case FsType.DBFS => "dbfs:" + stopDir
      }
}

/** The file systems the 0.x API knew by name; any Hadoop URI works as well. */
sealed trait FsType

object FsType {
  case object LocalFileSystem extends FsType
  case object DBFS extends FsType

  val values: Seq[FsType] = Seq(LocalFileSystem, DBFS)

  def fromString(s: String): Option[FsType] = values.find(_.toString.equalsIgnoreCase(s.trim))
}
