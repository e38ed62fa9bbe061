package io.github.stopstreaming.plugin

import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.{SparkSession, SparkSessionExtensions}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.catalyst.rules.Rule

/** Records every session the driver builds, so a started query can be found in its own session (PySpark's
  * `newSession()` never makes its session the active one). The plugin names this class in `spark.sql.extensions`; Spark
  * hands each new session to the injected rule builder, which records it and returns a rule that does nothing.
  */
class SessionRecorder extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit =
    extensions.injectResolutionRule { session =>
      StopStreamingRuntime.recordSession(session)
      SessionRecorder.NoOpRule
    }
}

object SessionRecorder {
  object NoOpRule extends Rule[LogicalPlan] {
    override def apply(plan: LogicalPlan): LogicalPlan = plan
  }
}
