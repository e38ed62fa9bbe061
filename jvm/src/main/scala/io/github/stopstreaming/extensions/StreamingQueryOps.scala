package io.github.stopstreaming.extensions

import java.util.concurrent.{TimeUnit, TimeoutException}

import scala.concurrent.blocking

import io.github.stopstreaming.core.{
  CancelOutcome,
  StopCondition,
  StopMode,
  StopOutcome,
  StopRequest,
  StopSource,
  StopState
}
import io.github.stopstreaming.extensions.conf.{FileSystemStopConfig, RestStopConfig, StopConfig}
import io.github.stopstreaming.plugin.SessionAttach
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.streaming.StreamingQuery

/** `import io.github.stopstreaming.extensions.StreamingQueryOps._` adds `awaitExternalTermination` (compatible with the
  * stopstreaming 0.x API) and `requestStop` to a `StreamingQuery`.
  */
object StreamingQueryOps {

  implicit class ExternalTermination(val query: StreamingQuery) extends AnyVal {

    /** Registers the query with the control plane (starting it if no plugin did), listens for a stop as `config` says,
      * and blocks until the query ends for any reason. Returns normally after a stop and rethrows the query's failure,
      * as `awaitTermination()` does.
      */
    def awaitExternalTermination(config: StopConfig): Unit = {
      config match {
        // The port first: the 0.x API's callers post to it moments after this call, while the plane may still start.
        case r: RestStopConfig =>
          SessionAttach.attachRest(query.sparkSession, query, r.host, r.port, r.stopPath, RestStopConfig.DefaultHost)
        case _ => attach(runtime, query, config)
      }
      awaitEnd(runtime)
    }

    /** The same with the plugin's own settings (`spark.stopstreaming.*`). */
    def awaitExternalTermination(): Unit = {
      val rt = runtime
      rt.plane.register(query)
      awaitEnd(rt)
    }

    // Returns once the query ended and its stop (if any) is recorded, so a SparkContext stopped right after loses no
    // audit record; rethrows the query's failure as awaitTermination() does. `blocking` lets a caller on Scala's
    // global ExecutionContext (the 0.x API was called in a Future) get a spare thread for the pool meanwhile: without
    // it, as many waits as cores starve every other Future of the application.
    private def awaitEnd(rt: StopStreamingRuntime): Unit =
      blocking {
        try query.awaitTermination()
        finally rt.plane.awaitStopRecorded(query.id, 2000)
      }

    /** Asks the control plane to stop this query (mode and timeout default to the configured ones) and returns at once
      * with the stop's state; wait for the end with `awaitTermination()`. With a condition (`when`, see
      * [[StopCondition.parse]]) the stop is PENDING until the condition holds.
      */
    def requestStop(
        mode: Option[StopMode] = None,
        timeoutMs: Option[Long] = None,
        when: StopCondition = StopCondition.Now
    ): StopState = requestStopAndWait(0L, mode, timeoutMs, when)

    /** [[requestStop]], then waits up to `waitMs` for the stop to settle: until the query has ended, or, for a
      * conditional stop, until it was cancelled or replaced. Returns the stop's state then: STOPPED (or ESCALATED,
      * FAILED) once ended, PENDING or DRAINING when the wait ran out, null after a cancel.
      */
    def requestStopAndWait(
        waitMs: Long,
        mode: Option[StopMode] = None,
        timeoutMs: Option[Long] = None,
        when: StopCondition = StopCondition.Now
    ): StopState = {
      val rt = runtime
      val t = rt.plane.register(query)
      val outcome = rt.plane.requestStop(query.id.toString, StopRequest(mode, timeoutMs, when), StopSource.Api)
      if (waitMs > 0) blocking {
        try rt.plane.settled(outcome).get(waitMs, TimeUnit.MILLISECONDS)
        catch { case _: TimeoutException => () }
      }
      outcome match {
        case StopOutcome.Accepted(_, state) if waitMs <= 0 => state
        case StopOutcome.Pending(_, p) if waitMs <= 0 => p.asState
        case StopOutcome.Accepted(_, _) | StopOutcome.Pending(_, _) => t.view.shownStop.orNull
        case StopOutcome.AlreadyEnded(e) => e.stop.orNull
        case other => throw new IllegalStateException(s"query ${query.id}: $other")
      }
    }

    /** Cancels this query's pending conditional stop; returns whether there was one. */
    def cancelStop(): Boolean = {
      val rt = runtime
      rt.plane.cancelStop(query.id.toString, StopSource.Api).isInstanceOf[CancelOutcome.Cancelled]
    }

    private def runtime: StopStreamingRuntime = SessionAttach.runtimeFor(query.sparkSession)
  }

  /** Registers `query` and listens for its stop as `config` says. */
  private[stopstreaming] def attach(rt: StopStreamingRuntime, query: StreamingQuery, config: StopConfig): Unit =
    config match {
      case r: RestStopConfig =>
        rt.attachRest(rt.plane.register(query), r.host, r.port, r.stopPath, RestStopConfig.DefaultHost)
      case f: FileSystemStopConfig =>
        rt.watchMarker(query, f.resolvedStopDir)
    }
}
