package io.github.stopstreaming.core

import java.time.Instant
import java.util.concurrent.{ConcurrentHashMap, Executors, ScheduledFuture, TimeUnit}

import scala.jdk.CollectionConverters._

import org.slf4j.LoggerFactory

/** Watches the conditional stops that wait for their condition, all on one shared thread that runs only while at least
  * one stop is pending. A met condition becomes an ordinary graceful stop through `fire` (the control plane's door), so
  * the batch-boundary rules of the graceful stop apply unchanged.
  */
final class ConditionWatcher(threads: NamedThreads, fire: (StopTarget, PendingStop) => Unit) {
  private val log = LoggerFactory.getLogger(getClass)
  private val LookEveryMs = 10L

  private val scheduler = Executors.newSingleThreadScheduledExecutor(threads.factory("stop-conditions"))
  private val waiting = ConcurrentHashMap.newKeySet[StopTarget]()
  private var ticking: Option[ScheduledFuture[_]] = None

  /** Starts watching `t`'s pending stop (a target already watched is simply looked at with its new condition). */
  def watch(t: StopTarget): Unit = {
    waiting.add(t)
    synchronized {
      if (ticking.isEmpty) {
        val task: Runnable = () => Guarded.run(log, "stop conditions")(lookAll())
        ticking = Some(scheduler.scheduleWithFixedDelay(task, 0, LookEveryMs, TimeUnit.MILLISECONDS))
      }
    }
  }

  def pendingCount: Int = waiting.size

  private def lookAll(): Unit = {
    waiting.asScala.foreach { t =>
      val p = t.pending.get
      if (p == null || t.stopState.get != null || !t.isRunning) {
        if (p != null && t.pending.compareAndSet(p, null)) p.settleAfter(t)
        waiting.remove(t)
      } else if (ConditionWatcher.met(p.condition, ConditionWatcher.look(t, p.condition))) {
        // Only the request that is still pending fires; a newer one (or a cancel) has replaced it otherwise.
        if (t.pending.compareAndSet(p, null)) {
          waiting.remove(t)
          log.info(s"query ${t.id}: stop condition ${p.condition} met")
          fire(t, p)
        }
      }
    }
    synchronized {
      if (waiting.isEmpty) { ticking.foreach(_.cancel(false)); ticking = None }
    }
    // watch() adds before it looks at `ticking` under this lock, so no target is left without a tick.
  }

  /** Stops watching; whoever waits for a pending stop is answered (the query runs on, its stop still pending). */
  def close(): Unit = {
    scheduler.shutdownNow()
    waiting.asScala.foreach(t => Option(t.pending.get).foreach(_.settled.complete(())))
  }
}

object ConditionWatcher {

  /** One look at a query, as Spark reports it. `lastBatch` is the latest progress's batch id with its input rows. */
  final case class Look(
      now: Instant,
      lastBatch: Option[(Long, Long)],
      triggerActive: Boolean,
      dataAvailable: Boolean,
      batchInSinkStage: Option[Long]
  )

  /** Reads only what `c` needs: a scheduled stop reads the clock alone, and the query thread's stack (a safepoint for
    * that thread) is taken only for `batch:N`, and only once batch N may be in flight (N-1 reported).
    */
  def look(t: StopTarget, c: StopCondition): Look = c match {
    case _: StopCondition.At | StopCondition.Now =>
      Look(Instant.now(), None, triggerActive = true, dataAvailable = true, None)
    case _ =>
      val last = t.lastProgress.map(p => (p.batchId, p.numInputRows))
      val sink = c match {
        case StopCondition.AfterBatch(n) if last.forall(_._1 >= n - 1) => t.batchInSinkStage
        case _ => None
      }
      // One status object: read apart, "no trigger" and "no data" could come from two different moments.
      val status = t.status
      Look(Instant.now(), last, status.forall(_.isTriggerActive), status.forall(_.isDataAvailable), sink)
  }

  /** Whether the condition holds now.
    *   - `caught-up`: a trigger has run, none is running, and the latest one found no new data.
    *   - `batch:N`: batch N (or a later one) is in its sink stage, so a stop marked now ends right after it; or the
    *     latest progress shows N committed (a batch that read rows, or any later batch id). A trigger without data
    *     reports the id of the next batch with no rows, so that alone does not count.
    *   - an instant: it has come.
    */
  def met(c: StopCondition, l: Look): Boolean = c match {
    case StopCondition.Now => true
    case StopCondition.CaughtUp => l.lastBatch.isDefined && !l.triggerActive && !l.dataAvailable
    case StopCondition.AfterBatch(n) =>
      l.batchInSinkStage.exists(_ >= n) || l.lastBatch.exists { case (id, rows) => id > n || (id == n && rows > 0) }
    case StopCondition.At(at) => !l.now.isBefore(at)
  }
}
