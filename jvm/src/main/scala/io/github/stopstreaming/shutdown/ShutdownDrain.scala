package io.github.stopstreaming.shutdown

import java.util.concurrent.TimeUnit

import scala.util.control.NonFatal

import io.github.stopstreaming.core.{ControlPlane, StopMode, StopRequest, StopSource}
import org.apache.hadoop.util.ShutdownHookManager
import org.slf4j.LoggerFactory

/** A stop signal source: on JVM shutdown (SIGTERM from Kubernetes or YARN, Ctrl-C on spark-submit, a job cancel) it
  * asks the control plane to stop every running query, in the configured mode and in parallel, before Spark stops its
  * SparkContext. A query still running when `timeoutMs` has passed (a graceful stop draining a long batch, even one
  * requested earlier with no timeout) is then stopped immediately, so the hook ends within its bound.
  *
  * Spark runs its own hooks (the SparkContext's among them) from one Hadoop shutdown hook at priority 40
  * (`FileSystem.SHUTDOWN_HOOK_PRIORITY + 30`); Hadoop runs higher priorities first, so this hook, at 50, finishes
  * before the SparkContext is stopped.
  */
final class ShutdownDrain(plane: ControlPlane, timeoutMs: Long) {
  private val log = LoggerFactory.getLogger(getClass)
  private val hook: Runnable = () => drain()

  def install(): Unit =
    // Hadoop gives each hook its own time limit: ours is the drain bound plus room to escalate.
    ShutdownHookManager
      .get()
      .addShutdownHook(
        hook,
        ShutdownDrain.Priority,
        timeoutMs + ShutdownDrain.EscalationMarginMs,
        TimeUnit.MILLISECONDS
      )

  def uninstall(): Unit =
    try ShutdownHookManager.get().removeShutdownHook(hook)
    catch { case NonFatal(_) => () } // the JVM is already shutting down: the hook stays

  /** Stops all running queries, in parallel; returns once all ended or the bound (plus the escalation margin) passed.
    */
  def drain(): Unit = {
    plane.managed.shuttingDown() // no managed query starts again while the driver goes down
    val running = plane.registry.runningQueries.filter(_.isRunning)
    if (running.isEmpty) return
    val how = if (plane.settings.stopMode == StopMode.Graceful) "gracefully" else "immediately"
    log.warn(s"JVM shutdown: stopping ${running.size} streaming queries $how (bound ${timeoutMs}ms)")
    val started = System.currentTimeMillis()
    running.foreach(t =>
      plane.requestStop(t.id.toString, StopRequest(timeoutMs = Some(timeoutMs)), StopSource.Shutdown)
    )
    val deadline = started + timeoutMs
    running.foreach(t => plane.awaitStop(t, math.max(0L, deadline - System.currentTimeMillis())))
    val late = running.filter(_.isRunning)
    if (late.nonEmpty) {
      log.warn(s"JVM shutdown: ${late.size} queries still run after ${timeoutMs}ms; stopping them immediately")
      late.foreach(t =>
        plane.requestStop(t.id.toString, StopRequest(mode = Some(StopMode.Immediate)), StopSource.Shutdown)
      )
      val end = System.currentTimeMillis() + ShutdownDrain.EscalationMarginMs
      late.foreach(t => plane.awaitStop(t, math.max(0L, end - System.currentTimeMillis())))
    }
    running.foreach { t =>
      val state = t.stop.map(_.phase.name).getOrElse("UNKNOWN")
      log.warn(
        s"JVM shutdown: query ${t.id} (${t.name.getOrElse("unnamed")}) " +
          s"${if (t.isRunning) "still running" else "ended"}: $state"
      )
    }
  }
}

object ShutdownDrain {

  /** Above Spark's own hook (40), so queries drain before the SparkContext stops. */
  val Priority = 50

  /** How long the hook waits for immediate stops after the drain bound: Hadoop's limit for the hook is bound + this. */
  val EscalationMarginMs = 10000L
}
