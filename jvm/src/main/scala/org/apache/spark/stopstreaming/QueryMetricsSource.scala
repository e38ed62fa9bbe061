package org.apache.spark.stopstreaming

import com.codahale.metrics.{Gauge, MetricRegistry}
import org.apache.spark.SparkEnv
import org.apache.spark.metrics.source.Source

/** One streaming query's figures as a source of Spark's metrics system (named `stopstreaming.query.<name>`): what Spark
  * itself reports only with `spark.sql.streaming.metricsEnabled`, here per registered query. Spark keeps `Source` and
  * the metrics system to itself, so this class lives in Spark's package.
  */
final class QueryMetricsSource(override val sourceName: String, figures: () => Option[QueryFigures]) extends Source {
  override val metricRegistry: MetricRegistry = new MetricRegistry

  private def gauge(name: String)(value: QueryFigures => Double): Unit =
    metricRegistry.register(
      name,
      new Gauge[Double] {
        override def getValue: Double = figures().map(value).filterNot(_.isNaN).getOrElse(0.0)
      }
    )

  gauge("inputRowsPerSecond")(_.inputRowsPerSecond)
  gauge("processedRowsPerSecond")(_.processedRowsPerSecond)
  gauge("batchDurationMs")(_.batchDurationMs.toDouble)
  gauge("latestBatchId")(_.batchId.toDouble)

  def register(): Boolean = Option(SparkEnv.get).exists { env => env.metricsSystem.registerSource(this); true }

  def remove(): Unit = Option(SparkEnv.get).foreach(_.metricsSystem.removeSource(this))
}

/** The figures of a query's last progress. */
final case class QueryFigures(
    batchId: Long,
    inputRowsPerSecond: Double,
    processedRowsPerSecond: Double,
    batchDurationMs: Long
)
