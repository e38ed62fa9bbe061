package io.github.stopstreaming.dynconf

import java.nio.charset.StandardCharsets.UTF_8
import java.time.Instant
import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

/** One value of the store; `version` is the store's version at the value's last change. */
final case class ConfEntry(value: String, version: Long, updatedAt: Instant)

/** The whole store at one version: replaced as a unit, so a reader never sees half a change. */
final case class ConfSnapshot(version: Long, entries: Map[String, ConfEntry])

/** Why a change was refused; `status` is the HTTP code the API answers with. */
final class ConfChangeException(val status: Int, message: String) extends IllegalArgumentException(message)

/** The dynamic configuration of the driver. Reads are one volatile read and a map lookup, with no lock and no network
  * call; changes are serialized, written to the optional persistence file first, and only then published, so a change
  * that could not be saved is not kept either.
  */
final class DynamicConfStore(initial: ConfSnapshot, persistence: Option[ConfFile]) {
  private val current = new AtomicReference[ConfSnapshot](initial)

  def snapshot: ConfSnapshot = current.get

  def get(key: String): Option[ConfEntry] = current.get.entries.get(key)

  def version: Long = current.get.version

  /** Sets `key`; with `ifVersion`, only when the key's version is that (0: only when it is absent). */
  def put(key: String, value: String, ifVersion: Option[Long]): ConfEntry = synchronized {
    DynamicConfStore.checkKey(key)
    val bytes = value.getBytes(UTF_8).length
    if (bytes > DynamicConfStore.MaxValueBytes)
      throw new ConfChangeException(
        413,
        s"value of '$key' is $bytes bytes; the limit is ${DynamicConfStore.MaxValueBytes}"
      )
    val s = current.get
    checkVersion(s, key, ifVersion)
    if (!s.entries.contains(key) && s.entries.size >= DynamicConfStore.MaxKeys)
      throw new ConfChangeException(400, s"the store holds ${DynamicConfStore.MaxKeys} keys, its limit")
    val v = s.version + 1
    val entry = ConfEntry(value, v, Instant.now())
    publish(ConfSnapshot(v, s.entries.updated(key, entry)))
    entry
  }

  /** Removes `key` (with the same `ifVersion` rule); returns the removed entry, or None if absent. */
  def delete(key: String, ifVersion: Option[Long]): Option[ConfEntry] = synchronized {
    DynamicConfStore.checkKey(key)
    val s = current.get
    checkVersion(s, key, ifVersion)
    s.entries.get(key).map { old =>
      publish(ConfSnapshot(s.version + 1, s.entries - key))
      old
    }
  }

  private def checkVersion(s: ConfSnapshot, key: String, ifVersion: Option[Long]): Unit = ifVersion.foreach { want =>
    val have = s.entries.get(key).map(_.version).getOrElse(0L)
    if (have != want)
      throw new ConfChangeException(412, s"'$key' is at version $have, not $want")
  }

  private def publish(next: ConfSnapshot): Unit = {
    persistence.foreach { f =>
      try f.write(next)
      catch {
        case NonFatal(e) =>
          throw new ConfChangeException(503, s"could not save to ${f.path} (${e.getMessage}); nothing was changed")
      }
    }
    current.set(next)
  }
}

object DynamicConfStore {
  val MaxKeyLength = 256
  val MaxValueBytes: Int = 64 * 1024
  val MaxKeys = 10000
  private val KeyPattern = "[A-Za-z0-9._-]{1,256}"

  def isValidKey(key: String): Boolean = key != null && key.matches(KeyPattern)

  def checkKey(key: String): Unit =
    if (!isValidKey(key))
      throw new ConfChangeException(400, s"key must be 1-$MaxKeyLength characters of A-Z a-z 0-9 . _ -")

  /** Initial values: the persistence file wins; Spark conf `spark.stopstreaming.conf.<key>` seeds keys it lacks. */
  def open(seed: Map[String, String], persistence: Option[ConfFile]): DynamicConfStore = {
    val fromFile = persistence.flatMap(_.read())
    val base = fromFile.getOrElse(ConfSnapshot(0L, Map.empty))
    val now = Instant.now()
    val missing = seed.filter { case (k, _) => !base.entries.contains(k) }
    val seeded = missing.toSeq.sortBy(_._1).foldLeft(base) { case (s, (k, v)) =>
      val version = s.version + 1
      ConfSnapshot(version, s.entries.updated(k, ConfEntry(v, version, now)))
    }
    new DynamicConfStore(seeded, persistence)
  }
}
