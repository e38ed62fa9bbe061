package io.github.stopstreaming.fs

import java.io.{FileNotFoundException, IOException}
import java.net.URI
import java.util.concurrent.atomic.{AtomicBoolean, AtomicLong}

import org.apache.hadoop.fs.{FileStatus, Path, RawLocalFileSystem}

/** The local file system under the scheme `faulty:`, registered through Hadoop's own extension point
  * (`fs.faulty.impl`). Tests tell it to fail the way object stores fail, and read how many calls the watcher made.
  */
class FaultyFileSystem extends RawLocalFileSystem {
  import FaultyFileSystem._

  override def getUri: URI = URI.create("faulty:///")

  override def getScheme: String = "faulty"

  override def listStatus(f: Path): Array[FileStatus] = {
    listCalls.incrementAndGet()
    if (failListing.get) throw new IOException("simulated: 503 Slow Down")
    if (dirMissing.get) throw new FileNotFoundException(s"simulated: $f is missing")
    // The local implementation stats every entry it lists; those are not calls of the caller.
    inListing.set(true)
    val all =
      try super.listStatus(f)
      finally inListing.set(false)
    if (hideMarkers.get) all.filterNot(s => isMarker(s.getPath.getName)) else all
  }

  override def create(
      f: Path,
      permission: org.apache.hadoop.fs.permission.FsPermission,
      overwrite: Boolean,
      bufferSize: Int,
      replication: Short,
      blockSize: Long,
      progress: org.apache.hadoop.util.Progressable
  ): org.apache.hadoop.fs.FSDataOutputStream = {
    if (failCreate.get) throw new IOException("simulated: disk quota exceeded")
    super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress)
  }

  override def create(
      f: Path,
      overwrite: Boolean,
      bufferSize: Int,
      replication: Short,
      blockSize: Long,
      progress: org.apache.hadoop.util.Progressable
  ): org.apache.hadoop.fs.FSDataOutputStream = {
    if (failCreate.get) throw new IOException("simulated: disk quota exceeded")
    super.create(f, overwrite, bufferSize, replication, blockSize, progress)
  }

  override def getFileStatus(f: Path): FileStatus = {
    if (!inListing.get) statusCalls.incrementAndGet()
    if (throwOnStatus.get) throw new IOException("simulated: permission denied")
    if (dirMissing.get && isMarker(f.getName)) throw new FileNotFoundException(s"simulated: $f is missing")
    super.getFileStatus(f)
  }
}

object FaultyFileSystem {
  val failListing = new AtomicBoolean(false)
  val dirMissing = new AtomicBoolean(false)
  val hideMarkers = new AtomicBoolean(false)
  val throwOnStatus = new AtomicBoolean(false)
  val failCreate = new AtomicBoolean(false)
  val listCalls = new AtomicLong()
  val statusCalls = new AtomicLong()
  private val inListing = ThreadLocal.withInitial[java.lang.Boolean](() => false)

  private val Uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
  def isMarker(name: String): Boolean = name.matches(Uuid)

  def reset(): Unit = {
    Seq(failListing, dirMissing, hideMarkers, throwOnStatus, failCreate).foreach(_.set(false))
    listCalls.set(0)
    statusCalls.set(0)
  }
}
