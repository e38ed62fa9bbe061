package io.github.stopstreaming.plugin

import io.github.stopstreaming.control.ControlPlane
import org.apache.spark.sql.{SparkSession, SparkSessionExtensions}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.catalyst.rules.Rule

/** Named in `spark.sql.extensions` by the plugin. Spark hands every session it builds to the injected rule builder,
  * which records the session and returns a rule that does nothing.
  */
class SessionCaptureExtension extends (SparkSessionExtensions => Unit) {
  override def apply(extensions: SparkSessionExtensions): Unit =
    extensions.injectResolutionRule { session =>
      ControlPlane.recordSession(session)
      SessionCaptureExtension.NoOpRule
    }
}

object SessionCaptureExtension {
  object NoOpRule extends Rule[LogicalPlan] {
    override def apply(plan: LogicalPlan): LogicalPlan = plan
  }
}
