package io.github.stopstreaming.plugin

import java.util.{Collections, Map => JMap}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import io.github.stopstreaming.core.ControlSettings
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.SparkContext
import org.apache.spark.api.plugin.{DriverPlugin, PluginContext}
import org.slf4j.LoggerFactory

/** Starts the control plane when the driver starts and stops it (freeing its port) when the driver stops. Before any
  * session exists it adds two entries to the live Spark conf, so that one `spark.plugins` setting is all a user writes:
  * the session recorder and the listener that registers every query as it starts.
  */
class StopStreamingDriverPlugin extends DriverPlugin {
  private val log = LoggerFactory.getLogger(getClass)
  @volatile private var runtime: Option[StopStreamingRuntime] = None

  override def init(sc: SparkContext, ctx: PluginContext): JMap[String, String] = {
    // A bad setting is a user error that names its key; it must fail the start, loudly.
    val settings = ControlSettings.fromConf(ctx.conf().getAll.toMap)
    if (settings.autoRegister) {
      StopStreamingDriverPlugin.appendClass(
        ctx.conf(),
        "spark.sql.extensions",
        classOf[SessionRecorder].getName
      )
      StopStreamingDriverPlugin.appendClass(
        ctx.conf(),
        "spark.sql.streaming.streamingQueryListeners",
        classOf[QueryEventsListener].getName
      )
    }
    val rt = StopStreamingRuntime.startForPlugin(settings, sc.hadoopConfiguration, Some(sc))
    runtime = Some(rt)
    // Published for clients that see only the conf, such as a Spark Connect client.
    rt.restUrl.foreach(url => ctx.conf().set(StopStreamingDriverPlugin.UrlKey, url))
    // The Spark UI tab is an extra: it never fails the control plane (see ControlTab).
    if (settings.uiTab) org.apache.spark.stopstreaming.ui.ControlTab.attach(sc, rt.plane, rt.restUrl)
    Collections.emptyMap()
  }

  /** The plugin's metrics go to Spark's metrics system, and so to every sink the user configured. */
  override def registerMetrics(appId: String, ctx: PluginContext): Unit =
    runtime.foreach(_.metrics.register(ctx.metricRegistry()))

  override def shutdown(): Unit =
    try runtime.foreach(StopStreamingRuntime.shutdown)
    catch { case NonFatal(e) => log.warn("stopping the stopstreaming control plane failed", e) }
}

object StopStreamingDriverPlugin {

  /** Set by the plugin once its server listens: the URL of the control server. */
  val UrlKey = "spark.stopstreaming.rest.url"

  /** Adds a class to a comma-separated conf entry, keeping what the user put there. */
  def appendClass(conf: org.apache.spark.SparkConf, key: String, cls: String): Unit = {
    val existing = conf.getOption(key).toSeq.flatMap(_.split(",")).map(_.trim).filter(_.nonEmpty)
    if (!existing.contains(cls)) conf.set(key, (existing :+ cls).mkString(","))
  }
}
