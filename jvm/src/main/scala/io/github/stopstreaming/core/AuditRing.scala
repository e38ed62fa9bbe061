package io.github.stopstreaming.core

import scala.jdk.CollectionConverters._

/** The latest `capacity` audit records, oldest first: past it, the oldest is dropped. Not thread-safe: the [[AuditLog]]
  * that owns it holds its lock.
  */
private[core] final class AuditRing(capacity: Int) {
  private val records = new java.util.ArrayDeque[AuditRecord]()

  def add(r: AuditRecord): Unit = {
    records.addLast(r)
    while (records.size > capacity) records.removeFirst()
  }

  /** The records numbered after `seq`, oldest first (they are added in the order they are numbered). */
  def after(seq: Long): Seq[AuditRecord] = records.asScala.dropWhile(_.seq <= seq).toSeq

  def size: Int = records.size
}
