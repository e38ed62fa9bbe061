package io.github.stopstreaming.fs

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileSystem, LocalFileSystem, Path}

/** How stopstreaming opens the Hadoop file system of a path. */
object HadoopPaths {

  /** The file system of `path`. The local one is used raw: its checksummed wrapper would put a `.crc` file beside every
    * file we write, and `ls` of a stop directory should show queries.
    */
  def fileSystem(path: Path, conf: Configuration): FileSystem = path.getFileSystem(conf) match {
    case local: LocalFileSystem => local.getRawFileSystem
    case other => other
  }
}
