package io.github.stopstreaming.core

import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong

/** The audit trail: every record made at the control plane's door ([[AuditRecords]]), numbered, and each handed to the
  * sinks (the driver log, Spark's listener bus) as it is made. The latest `capacity` records of what callers did are
  * kept in memory (for `GET /api/v1/events`). Refusals of callers without the token are kept apart, sampled by
  * [[RefusalSampler]] into a ring of their own, so a stranger's flood costs a bounded amount of memory and log lines
  * and never pushes a real action out of the trail.
  */
final class AuditLog(
    capacity: Int,
    refusalCapacity: Int = AuditLog.RefusalCapacity,
    clock: () => Long = () => System.currentTimeMillis()
) extends ControlPlaneListener {
  private val lock = new Object
  private val seq = new AtomicLong()
  private val kept = new AuditRing(capacity)
  private val refused = new AuditRing(refusalCapacity)
  private val sampler = new RefusalSampler(AuditLog.RefusalWindowMs, AuditLog.RefusalKeys)
  private val sinks = new CopyOnWriteArrayList[AuditRecord => Unit]()

  def addSink(sink: AuditRecord => Unit): Unit = sinks.add(sink)

  /** Records after `since` (a sequence number), oldest first: the actions and the sampled refusals together. */
  def since(since: Long): Seq[AuditRecord] = {
    flushRefusals()
    lock.synchronized((kept.after(since) ++ refused.after(since)).sortBy(_.seq))
  }

  /** How many records are held in memory (actions, refusals). */
  def sizes: (Int, Int) = lock.synchronized((kept.size, refused.size))

  override def on(event: ControlEvent): Unit = AuditRecords.of(event).foreach {
    case AuditEntry(r, None) => add(kept, r)
    case AuditEntry(r, Some(code)) =>
      // The first of its kind (client, reason) in a window is recorded at once, the rest of the window only counted,
      // and the count recorded when the window has passed.
      flushRefusals()
      if (sampler.admit(r.client, code, r.source, clock())) add(refused, r)
  }

  private def flushRefusals(): Unit =
    sampler.expired(clock()).foreach(w => add(refused, AuditRecords.refusalSummary(w)))

  private def add(ring: AuditRing, r: AuditRecord): Unit = {
    // Numbered under the lock, so that each ring holds its records in the order of their numbers.
    val numbered = lock.synchronized {
      val n = r.copy(seq = seq.incrementAndGet())
      ring.add(n)
      n
    }
    sinks.forEach(s => s(numbered))
  }
}

object AuditLog {

  /** Sampled refusals of callers without the token kept in memory. */
  val RefusalCapacity = 200

  /** One refusal record per client and reason in this window; the rest are counted. */
  val RefusalWindowMs = 60000L

  /** Distinct (client, reason) pairs sampled at once; past that, refusals of new clients share one entry per reason. */
  val RefusalKeys = 256
}
