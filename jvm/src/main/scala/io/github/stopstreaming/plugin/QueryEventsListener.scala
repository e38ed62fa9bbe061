package io.github.stopstreaming.plugin

import scala.util.control.NonFatal

import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.streaming.StreamingQueryListener
import org.apache.spark.sql.streaming.StreamingQueryListener._
import org.slf4j.LoggerFactory

/** Feeds the control plane with query starts and ends. The plugin names this class in
  * `spark.sql.streaming.streamingQueryListeners`, so Spark creates one per session, and `onQueryStarted` runs on the
  * query's own thread before its first batch: the query is registered before anyone could ask to stop it.
  */
class QueryEventsListener extends StreamingQueryListener {
  private val log = LoggerFactory.getLogger(getClass)

  override def onQueryStarted(event: QueryStartedEvent): Unit =
    try StopStreamingRuntime.plane.foreach(_.onQueryStarted(event.id, event.runId))
    catch { case NonFatal(e) => log.warn(s"could not register query ${event.id}", e) }

  override def onQueryProgress(event: QueryProgressEvent): Unit = ()

  override def onQueryTerminated(event: QueryTerminatedEvent): Unit =
    try StopStreamingRuntime.plane.foreach(_.onQueryTerminated(event.id, event.runId, event.exception))
    catch { case NonFatal(e) => log.warn(s"could not record the end of query ${event.id}", e) }
}
