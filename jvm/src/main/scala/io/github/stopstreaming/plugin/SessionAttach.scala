package io.github.stopstreaming.plugin

import scala.util.control.NonFatal

import io.github.stopstreaming.core.ControlSettings
import io.github.stopstreaming.runtime.{EarlyBind, StopStreamingRuntime}
import org.apache.spark.{SparkContext, SparkEnv}
import org.apache.spark.scheduler.{SparkListener, SparkListenerApplicationEnd}
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery

/** How the Scala and Python APIs reach the control plane for a session: the plugin's, or one started now from the
  * session's Spark conf when no plugin was configured (the jar is only on the classpath, as in a notebook attached to a
  * running cluster). Either way the session's queries are registered from then on.
  */
object SessionAttach {

  def runtimeFor(spark: SparkSession): StopStreamingRuntime = {
    var startedNow = false
    val rt = StopStreamingRuntime.getOrStart {
      startedNow = true
      (ControlSettings.fromConf(spark.sparkContext.getConf.getAll.toMap), spark.sparkContext)
    }
    if (startedNow) stopWithContext(spark.sparkContext, rt)
    if (!rt.plane.sessions.contains(spark)) {
      rt.plane.sessions.record(spark)
      // Sessions built before the plugin could name its listener get it here.
      if (!hasOwnListener(spark)) spark.streams.addListener(new QueryEventsListener())
    }
    rt
  }

  /** Registers `query` and serves `POST {stopPath}/{id}` for it on `port`; returns the bound port. When this call
    * starts the control plane, the port is bound first, so it listens within milliseconds of the call.
    */
  def attachRest(
      spark: SparkSession,
      query: StreamingQuery,
      host: String,
      port: Int,
      stopPath: String,
      defaultHost: String
  ): Int = {
    // The driver's own SparkConf: `getConf` would copy every setting first, the larger part of the time before the
    // bind on a loaded machine.
    val env = SparkEnv.get
    val reserved =
      EarlyBind.reserve(if (env != null) env.conf else spark.sparkContext.getConf, host, port, defaultHost)
    try {
      val rt = runtimeFor(spark)
      rt.attachRest(rt.plane.register(query), host, port, stopPath, defaultHost)
    } finally reserved.foreach(EarlyBind.release)
  }

  private def hasOwnListener(spark: SparkSession): Boolean =
    try spark.streams.listListeners().exists(_.isInstanceOf[QueryEventsListener])
    catch { case NonFatal(_) => false }

  private def stopWithContext(sc: SparkContext, rt: StopStreamingRuntime): Unit =
    sc.addSparkListener(new SparkListener {
      override def onApplicationEnd(end: SparkListenerApplicationEnd): Unit = StopStreamingRuntime.shutdown(rt)
    })
}
