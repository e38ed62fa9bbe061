package io.github.stopstreaming.control

import java.util.concurrent.TimeUnit

import scala.util.control.NonFatal

import org.apache.hadoop.util.ShutdownHookManager
import org.slf4j.LoggerFactory

/** On JVM shutdown (SIGTERM from Kubernetes or YARN, Ctrl-C on spark-submit, a job cancel), stops every registered
  * query gracefully and in parallel, before Spark stops its SparkContext; a query still draining after `timeoutMs` is
  * escalated to an immediate stop.
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

  /** Stops all running queries gracefully, in parallel; returns once all ended or the bound passed. */
  def drain(): Unit = {
    val running = plane.registry.runningQueries.filter(_.isRunning)
    if (running.isEmpty) return
    log.warn(s"JVM shutdown: stopping ${running.size} streaming queries gracefully (bound ${timeoutMs}ms)")
    running.foreach(t => plane.stopper.request(t, StopMode.Graceful, timeoutMs, StopSource.Shutdown))
    val deadline = System.currentTimeMillis() + timeoutMs + ShutdownDrain.EscalationMarginMs
    running.foreach(t => plane.stopper.await(t, math.max(0L, deadline - System.currentTimeMillis())))
    running.foreach { t =>
      val state = t.stop.map(_.phase.name).getOrElse("UNKNOWN")
      log.warn(
        s"JVM shutdown: query ${t.id} (${t.name.getOrElse("unnamed")}) ${if (t.isRunning) "still running" else "ended"}: $state"
      )
    }
  }
}

object ShutdownDrain {

  /** Above Spark's own hook (40), so queries drain before the SparkContext stops. */
  val Priority = 50
  val EscalationMarginMs = 10000L
}
