package io.github.stopstreaming.core

import java.nio.charset.StandardCharsets.UTF_8
import java.time.Instant
import java.util.concurrent.atomic.AtomicReference

import scala.util.control.NonFatal

/** One value of the store; `version` is the store's version at the value's last change. */
final case class ConfEntry(value: String, version: Long, updatedAt: Instant)

/** The whole store at one version: replaced as a unit, so a reader never sees half a change. */
final case class ConfSnapshot(version: Long, entries: Map[String, ConfEntry]) {

  /** What the keys and values weigh, in UTF-8 bytes (the store's size limit counts this). */
  lazy val bytes: Long = entries.iterator.map { case (k, e) => k.length.toLong + e.value.getBytes(UTF_8).length }.sum
}

/** Why a change of the dynamic configuration was refused. The store says what happened; each adapter (HTTP, Python)
  * decides how to tell its caller.
  */
sealed abstract class ConfRejection(val message: String)

object ConfRejection {
  final case class InvalidKey(key: String)
      extends ConfRejection(s"key must be 1-${DynamicConfStore.MaxKeyLength} characters of A-Z a-z 0-9 . _ -")
  final case class ValueTooLarge(key: String, bytes: Int)
      extends ConfRejection(s"value of '$key' is $bytes bytes; the limit is ${DynamicConfStore.MaxValueBytes}")
  final case class StoreFull(limit: Int) extends ConfRejection(s"the store holds $limit keys, its limit")
  final case class StoreTooLarge(bytes: Long, limit: Long)
      extends ConfRejection(
        s"the change would make the store $bytes bytes; its limit is $limit (spark.stopstreaming.conf.maxBytes)"
      )
  final case class VersionConflict(key: String, have: Long, want: Long)
      extends ConfRejection(s"'$key' is at version $have, not $want")

  /** A key stopstreaming keeps for itself (a managed query's persisted pause): changed only by pause and resume. */
  final case class Reserved(key: String)
      extends ConfRejection(s"'$key' is kept by stopstreaming for a managed query's pause; use pause and resume")
  final case class NotSaved(where: String, why: String)
      extends ConfRejection(s"could not save to $where ($why); nothing was changed")
}

/** A refused change; `rejection` tells why. */
final class ConfChangeException(val rejection: ConfRejection) extends IllegalArgumentException(rejection.message)

/** Where the store keeps its snapshots between driver runs (a file on a Hadoop file system, in the `fs` adapter). */
trait ConfPersistence {
  def location: String

  /** The stored snapshot, None when nothing is stored; a corrupt store is an error naming it. */
  def read(): Option[ConfSnapshot]

  /** Replaces the stored snapshot as a whole; throws when it could not. */
  def write(s: ConfSnapshot): Unit
}

/** The dynamic configuration of the driver. Reads are one volatile read and a map lookup, with no lock and no network
  * call; changes are serialized, written to the optional persistence first, and only then published, so a change that
  * could not be saved is not kept either.
  */
final class DynamicConfStore(
    initial: ConfSnapshot,
    persistence: Option[ConfPersistence],
    maxBytes: Long = DynamicConfStore.DefaultMaxBytes
) {
  private val current = new AtomicReference[ConfSnapshot](initial)
  private val listeners = new java.util.concurrent.CopyOnWriteArrayList[ConfSnapshot => Unit]()

  /** Called once with every new snapshot, after it is published and before its writer is answered. Snapshots of
    * concurrent writers may arrive in either order (their versions tell which is newer).
    */
  def addListener(l: ConfSnapshot => Unit): Unit = listeners.add(l)

  def removeListener(l: ConfSnapshot => Unit): Unit = listeners.remove(l)

  def snapshot: ConfSnapshot = current.get

  def get(key: String): Option[ConfEntry] = current.get.entries.get(key)

  def version: Long = current.get.version

  /** Sets `key`; with `ifVersion`, only when the key's version is that (0: only when it is absent). */
  def put(key: String, value: String, ifVersion: Option[Long]): ConfEntry = {
    val (entry, published) = change(key, value, ifVersion)
    tellListeners(published)
    entry
  }

  private def change(key: String, value: String, ifVersion: Option[Long]): (ConfEntry, ConfSnapshot) = synchronized {
    DynamicConfStore.checkEntry(key, value).left.foreach(r => throw new ConfChangeException(r))
    val s = current.get
    checkVersion(s, key, ifVersion)
    if (!s.entries.contains(key) && s.entries.size >= DynamicConfStore.MaxKeys)
      throw new ConfChangeException(ConfRejection.StoreFull(DynamicConfStore.MaxKeys))
    val v = s.version + 1
    val entry = ConfEntry(value, v, Instant.now())
    val next = ConfSnapshot(v, s.entries.updated(key, entry))
    if (next.bytes > maxBytes && next.bytes > s.bytes)
      throw new ConfChangeException(ConfRejection.StoreTooLarge(next.bytes, maxBytes))
    publish(next)
    (entry, next)
  }

  /** Removes `key` (with the same `ifVersion` rule); returns the removed entry, or None if absent. */
  def delete(key: String, ifVersion: Option[Long]): Option[ConfEntry] = deleteAt(key, ifVersion).map(_._1)

  /** [[delete]], with the version the removal published (a concurrent writer may have published a later one since). */
  def deleteAt(key: String, ifVersion: Option[Long]): Option[(ConfEntry, Long)] = {
    val removed = remove(key, ifVersion)
    removed.foreach { case (_, published) => tellListeners(published) }
    removed.map { case (old, published) => (old, published.version) }
  }

  private def remove(key: String, ifVersion: Option[Long]): Option[(ConfEntry, ConfSnapshot)] = synchronized {
    DynamicConfStore.checkKey(key).left.foreach(r => throw new ConfChangeException(r))
    val s = current.get
    checkVersion(s, key, ifVersion)
    s.entries.get(key).map { old =>
      val next = ConfSnapshot(s.version + 1, s.entries - key)
      publish(next)
      (old, next)
    }
  }

  // Outside the lock: a slow listener delays its writer's answer, never other writers. Each writer tells the snapshot
  // it published (not the current one, which a concurrent writer may have replaced already: its own would be missed).
  private def tellListeners(s: ConfSnapshot): Unit =
    listeners.forEach(l =>
      try l(s)
      catch { case NonFatal(_) => () }
    )

  private def checkVersion(s: ConfSnapshot, key: String, ifVersion: Option[Long]): Unit = ifVersion.foreach { want =>
    val have = s.entries.get(key).map(_.version).getOrElse(0L)
    if (have != want) throw new ConfChangeException(ConfRejection.VersionConflict(key, have, want))
  }

  private def publish(next: ConfSnapshot): Unit = {
    persistence.foreach { p =>
      try p.write(next)
      catch {
        case NonFatal(e) => throw new ConfChangeException(ConfRejection.NotSaved(p.location, e.getMessage))
      }
    }
    current.set(next)
  }
}

object DynamicConfStore {
  val MaxKeyLength = 256
  val MaxValueBytes: Int = 64 * 1024
  val MaxKeys = 10000
  val DefaultMaxBytes: Long = 1024L * 1024
  private val KeyPattern = "[A-Za-z0-9._-]{1,256}"

  def isValidKey(key: String): Boolean = key != null && key.matches(KeyPattern)

  def checkKey(key: String): Either[ConfRejection, Unit] =
    if (isValidKey(key)) Right(()) else Left(ConfRejection.InvalidKey(key))

  /** The rules every value obeys, wherever it comes from (HTTP, Spark conf seeds, the persistence file). */
  def checkEntry(key: String, value: String): Either[ConfRejection, Unit] =
    checkKey(key).flatMap { _ =>
      val bytes = value.getBytes(UTF_8).length
      if (bytes > MaxValueBytes) Left(ConfRejection.ValueTooLarge(key, bytes)) else Right(())
    }

  /** Initial values: the persistence wins; Spark conf `spark.stopstreaming.conf.<key>` sets keys it lacks. */
  def open(
      initialValues: Map[String, String],
      persistence: Option[ConfPersistence],
      maxBytes: Long = DefaultMaxBytes
  ): DynamicConfStore = {
    val fromFile = persistence.flatMap(_.read())
    val base = fromFile.getOrElse(ConfSnapshot(0L, Map.empty))
    val now = Instant.now()
    val missing = initialValues.filter { case (k, _) => !base.entries.contains(k) }
    val withInitial = missing.toSeq.sortBy(_._1).foldLeft(base) { case (s, (k, v)) =>
      val version = s.version + 1
      ConfSnapshot(version, s.entries.updated(k, ConfEntry(v, version, now)))
    }
    new DynamicConfStore(withInitial, persistence, maxBytes)
  }
}
