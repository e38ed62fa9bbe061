package io.github.stopstreaming.observe

import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.util.control.NonFatal

import io.github.stopstreaming.core.{ControlEvent, ControlPlane, ControlPlaneListener, Lookup, TrackedQuery}
import org.apache.spark.stopstreaming.{QueryFigures, QueryMetricsSource}
import org.slf4j.LoggerFactory

/** With `spark.stopstreaming.metrics.perQuery`, each registered query gets a metrics source of its own while it runs,
  * named by its name where no other running query has it (else by its id).
  */
final class QueryMetrics(plane: ControlPlane) extends ControlPlaneListener {
  private val log = LoggerFactory.getLogger(getClass)
  private val sources = new ConcurrentHashMap[UUID, QueryMetricsSource]()

  override def on(event: ControlEvent): Unit = event match {
    case ControlEvent.QueryRegistered(t) => registered(t)
    case ControlEvent.QueryEnded(e) => Option(sources.remove(e.id)).foreach(_.remove())
    case _ => ()
  }

  private def registered(t: TrackedQuery): Unit =
    try {
      val unique = t.name.exists(n => plane.registry.lookup(n).isInstanceOf[Lookup.Running])
      val label = if (unique) t.name.get else t.id.toString
      val source = new QueryMetricsSource(s"stopstreaming.query.$label", () => figures(t))
      if (source.register()) Option(sources.put(t.id, source)).foreach(_.remove())
    } catch { case NonFatal(e) => log.warn(s"no metrics source for query ${t.id}", e) }

  private def figures(t: TrackedQuery): Option[QueryFigures] =
    try
      Option(t.query.lastProgress).map { p =>
        val duration = Option(p.durationMs.get("triggerExecution")).map(_.longValue).getOrElse(p.batchDuration)
        QueryFigures(p.batchId, p.inputRowsPerSecond, p.processedRowsPerSecond, duration)
      }
    catch { case NonFatal(_) => None }
}
