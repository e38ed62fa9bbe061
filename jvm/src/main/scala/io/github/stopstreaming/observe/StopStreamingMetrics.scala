package io.github.stopstreaming.observe

import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.LongAdder

import com.codahale.metrics.{Gauge, MetricRegistry}
import io.github.stopstreaming.core._

/** The plugin's metrics, registered in the registry Spark gives the plugin (`DriverPlugin.registerMetrics`), so every
  * sink a Spark user configures carries them: the Spark UI's Prometheus servlet, JMX, Graphite, CSV. Spark names them
  * `<app id>.driver.plugin.io.github.stopstreaming.StopStreamingPlugin.<name>`.
  */
final class StopStreamingMetrics(plane: ControlPlane, httpGauges: Seq[(String, () => Long)])
    extends ControlPlaneListener {
  private val sources: Seq[StopSource] = StopSource.all
  private val modes: Seq[StopMode] = Seq(StopMode.Graceful, StopMode.Immediate)
  private val requested: Map[(StopSource, StopMode), LongAdder] =
    (for (s <- sources; m <- modes) yield (s, m) -> new LongAdder).toMap
  private val refused = Map("notFound" -> new LongAdder, "ambiguous" -> new LongAdder)
  private val finished: Map[StopPhase, LongAdder] =
    Seq[StopPhase](StopPhase.Stopped, StopPhase.Escalated, StopPhase.Failed).map(_ -> new LongAdder).toMap
  private val confChanges = new LongAdder
  // Moves of managed queries, by the state they moved to (paused, resumed: restarting from paused, ...).
  private val lifecycle = Seq("pauses", "resumes", "restarts", "failures", "supervisedRestarts", "giveUps")
    .map(_ -> new LongAdder)
    .toMap
  // Set once by register (the metrics system's thread), read by the threads that finish stops.
  @volatile private var duration: com.codahale.metrics.Timer = _

  def register(registry: MetricRegistry): Unit = {
    def gauge(name: String)(value: => Long): Unit =
      registry.register(name, new Gauge[Long] { override def getValue: Long = value })
    requested.foreach { case ((s, m), c) => gauge(s"stops.requested.${s.name}.${m.name}")(c.sum) }
    refused.foreach { case (why, c) => gauge(s"stops.refused.$why")(c.sum) }
    finished.foreach { case (p, c) => gauge(s"stops.finished.${p.name.toLowerCase}")(c.sum) }
    duration = registry.timer("stops.duration")
    gauge("queries.registered")(plane.registry.runningQueries.size.toLong)
    gauge("queries.running")(plane.registry.runningQueries.count(_.isRunning).toLong)
    gauge("queries.draining")(plane.drainingCount.toLong)
    lifecycle.foreach { case (what, c) => gauge(s"managed.$what")(c.sum) }
    gauge("managed.queries")(plane.managed.views.size.toLong)
    gauge("managed.paused")(plane.managed.views.count(_.state == ManagedState.Paused).toLong)
    gauge("managed.pausedMs")(plane.managed.views.map(_.pausedMs).sum)
    gauge("conf.version")(plane.dynamicConf.version)
    gauge("conf.keys")(plane.dynamicConf.snapshot.entries.size.toLong)
    gauge("conf.changes")(confChanges.sum)
    httpGauges.foreach { case (name, value) => gauge(name)(value()) }
  }

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.StopRequested(target, request, source, caller, outcome) =>
      stopRequested(target, request, source, caller, outcome)
    case ControlEvent.StopFinished(t, s) => stopFinished(t, s)
    case ControlEvent.ConfChanged(change, caller) => confChanged(change, caller)
    case t: ControlEvent.ManagedTransition => managed(t)
    case _ => ()
  }

  private def stopRequested(
      target: String,
      request: StopRequest,
      source: StopSource,
      caller: Caller,
      outcome: StopOutcome
  ): Unit = outcome match {
    case StopOutcome.Accepted(_, s) => requested.get((source, request.mode.getOrElse(s.mode))).foreach(_.increment())
    case StopOutcome.NotFound => refused("notFound").increment()
    case _: StopOutcome.Ambiguous => refused("ambiguous").increment()
    case _ => ()
  }

  private def stopFinished(t: StopTarget, s: StopState): Unit = {
    finished.get(s.phase).foreach(_.increment())
    s.completedAt.foreach { end =>
      if (duration != null) duration.update(end.toEpochMilli - s.requestedAt.toEpochMilli, TimeUnit.MILLISECONDS)
    }
  }

  private def managed(t: ControlEvent.ManagedTransition): Unit = {
    import ManagedState._
    val what = (t.from, t.view.state) match {
      case (_, Paused) => Some("pauses")
      case (Paused, Restarting) => Some("resumes")
      case (Running, Restarting) => Some("restarts")
      case (_, Backoff) => Some("failures")
      case (Backoff, Restarting) => Some("supervisedRestarts")
      case (_, Failed) => Some("giveUps")
      case _ => None
    }
    what.flatMap(lifecycle.get).foreach(_.increment())
    if (t.view.state == Failed) lifecycle("failures").increment()
  }

  private def confChanged(change: ConfChange, caller: Caller): Unit =
    if (change.refused.isEmpty) confChanges.increment()
}
