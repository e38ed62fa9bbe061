package io.github.stopstreaming.extensions

import java.util.concurrent.{TimeUnit, TimeoutException}

import scala.concurrent.blocking

import io.github.stopstreaming.core._
import io.github.stopstreaming.plugin.SessionAttach
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery

/** A query the control plane owns the life of: started from its recipe, paused, resumed, restarted, and restarted after
  * failures with back-off. Known by its name across runs; [[current]] is the run of the moment.
  *
  * {{{
  * val managed = ManagedQuery.manage(spark, "orders") { s =>
  *   s.readStream.format("kafka")...writeStream.queryName("orders").option("checkpointLocation", cp).start()
  * }
  * managed.awaitTermination() // returns once STOPPED; throws ManagedQueryFailedException once FAILED
  * }}}
  */
final class ManagedQuery private (plane: ControlPlane, val name: String) {

  def view: ManagedView = plane.managed.find(name).getOrElse(throw new IllegalStateException(s"'$name' is not managed"))

  def state: ManagedState = view.state

  /** The run of the moment, if the query runs now. */
  def current: Option[StreamingQuery] =
    view.queryId.flatMap(id => plane.registry.runningEntry(id)).map(_.query)

  def pause(when: StopCondition = StopCondition.Now, timeoutMs: Option[Long] = None): ManagedOutcome =
    plane.managed.pause(name, when, timeoutMs, StopSource.Api, Caller.Internal)

  def resume(): ManagedOutcome = plane.managed.resume(name, StopSource.Api, Caller.Internal)

  def restart(when: StopCondition = StopCondition.Now, timeoutMs: Option[Long] = None): ManagedOutcome =
    plane.managed.restart(name, when, timeoutMs, StopSource.Api, Caller.Internal)

  /** Ends it for good: a graceful stop of the run, if there is one; it is not restarted. */
  def stop(): ManagedOutcome = plane.managed.stop(name, StopSource.Api, Caller.Internal)

  /** Waits up to `ms` until `holds` is true of the view; returns the view then. */
  def awaitState(ms: Long)(holds: ManagedView => Boolean): ManagedView = blocking {
    plane.managed.await(name, ms)(holds).getOrElse(throw new IllegalStateException(s"'$name' is not managed"))
  }

  /** Blocks until the managed query is finished for good: returns once STOPPED (or the driver shut down), throws
    * [[ManagedQueryFailedException]] with the last error once FAILED.
    */
  def awaitTermination(): Unit = {
    val v = blocking(plane.managed.terminated(name).get.get())
    if (v.state == ManagedState.Failed) throw new ManagedQueryFailedException(v)
  }

  /** As [[awaitTermination]], for at most `ms`; returns whether it is finished. */
  def awaitTermination(ms: Long): Boolean = {
    val v =
      try blocking(plane.managed.terminated(name).get.get(ms, TimeUnit.MILLISECONDS))
      catch { case _: TimeoutException => return false }
    if (v.state == ManagedState.Failed) throw new ManagedQueryFailedException(v)
    true
  }
}

object ManagedQuery {

  /** Starts the query from `start` (now, in this thread) and hands its life to the control plane (started if no plugin
    * did). A name paused in an earlier run of the application, with the pause persisted in `spark.stopstreaming
    * .conf.file`, is not started until resumed. `policy` defaults to the `spark.stopstreaming.restart.*` settings.
    */
  def manage(spark: SparkSession, name: String, policy: Option[RestartPolicy] = None)(
      start: SparkSession => StreamingQuery
  ): ManagedQuery = {
    val plane = SessionAttach.runtimeFor(spark).plane
    val build = start
    val recipe = new QueryRecipe { def start(): StreamingQuery = build(spark) }
    plane.managed.manage(name, recipe, policy.getOrElse(plane.managed.defaultPolicy))
    new ManagedQuery(plane, name)
  }
}
