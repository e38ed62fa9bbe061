package io.github.stopstreaming.core

import java.lang.reflect.Method
import java.util.concurrent.atomic.AtomicReference

import scala.util.Try
import scala.util.control.NonFatal

import org.apache.spark.sql.streaming.StreamingQuery
import org.slf4j.LoggerFactory

/** The names in the query thread's stack that the safe-moment rules recognise. A test on every Spark of the matrix
  * checks that a live query shows each of them, so an upgrade that renames one fails CI instead of silently turning
  * graceful stops into timeouts.
  */
object StreamThreadFrames {

  /** The trigger executor's clock wait between triggers. */
  val IdleWaitMethod = "waitTillTime"

  /** The micro-batch loop's class (name contains this) and its batch method (name contains this). */
  val MicroBatchClass = "MicroBatchExecution"
  val RunBatchMethod = "runBatch"

  /** A batch's sink stage runs inside an SQL execution of this class (name starts with this). */
  val SqlExecutionClass = "org.apache.spark.sql.execution.SQLExecution"

  /** The short sleep the loop takes when a trigger found no data. */
  val NoDataSleepMethod = "sleep"
}

/** The one place that touches Spark internals: the `StreamExecution` behind a query, its `state` reference and its
  * execution thread. Spark has no public "finish this batch, then stop" call; setting the state to TERMINATED without
  * interrupting does exactly that, because the trigger loop checks the state before it starts a batch and the batch in
  * flight runs to its commit. The class of TERMINATED moved in Spark 4.1, so everything is looked up by reflection
  * once, and every call tells whether it could do its job.
  */
object StreamInternals {
  private val Frames = StreamThreadFrames
  private val log = LoggerFactory.getLogger(getClass)

  val TerminatedClassNames: Seq[String] = Seq(
    "org.apache.spark.sql.execution.streaming.runtime.TERMINATED$", // Spark 4.1+
    "org.apache.spark.sql.execution.streaming.TERMINATED$" // Spark 3.x, 4.0
  )

  /** The `StreamExecution` behind a `StreamingQueryWrapper` (or the query itself). */
  def execution(query: StreamingQuery): AnyRef = {
    val m = Try(query.getClass.getMethod("streamingQuery")).toOption
    m.map(_.invoke(query)).getOrElse(query)
  }

  private def method(target: AnyRef, name: String): Option[Method] =
    Try(target.getClass.getMethod(name)).toOption

  /** The query's execution thread, if it can be found. */
  def thread(query: StreamingQuery): Option[Thread] = Try {
    val exec = execution(query)
    method(exec, "queryExecutionThread").map(_.invoke(exec).asInstanceOf[Thread])
  }.toOption.flatten

  /** The query's checkpoint root as Spark resolved it (a qualified URI, `StreamExecution.resolvedCheckpointRoot`). The
    * class that holds it moved packages in Spark 4.1; the method kept its name, so it is found on the object itself.
    */
  def checkpointRoot(query: StreamingQuery): Option[String] = Try {
    val exec = execution(query)
    method(exec, "resolvedCheckpointRoot").flatMap(m => Option(m.invoke(exec))).map(_.toString)
  }.toOption.flatten

  /** Continuous-processing queries have no batch boundary to drain to. */
  def isContinuous(query: StreamingQuery): Boolean =
    execution(query).getClass.getName.contains("ContinuousExecution")

  /** Whether the graceful path is available for this query on this Spark. */
  def supportsGracefulStop(query: StreamingQuery): Boolean =
    !isContinuous(query) && stateRef(query).isDefined && terminatedValue(query).isDefined

  private def stateRef(query: StreamingQuery): Option[AtomicReference[AnyRef]] = Try {
    val exec = execution(query)
    method(exec, "state").map(_.invoke(exec).asInstanceOf[AtomicReference[AnyRef]])
  }.toOption.flatten

  private def terminatedValue(query: StreamingQuery): Option[AnyRef] = {
    val loader = execution(query).getClass.getClassLoader
    TerminatedClassNames.iterator
      .flatMap { n =>
        Try(Class.forName(n, true, loader).getField("MODULE$").get(null)).toOption
      }
      .toSeq
      .headOption
  }

  /** Tells the query to start no new batch, without interrupting the one in flight. Returns false when this Spark does
    * not allow it (the caller falls back).
    */
  def markTerminated(query: StreamingQuery): Boolean =
    (stateRef(query), terminatedValue(query)) match {
      case (Some(ref), Some(terminated)) =>
        val previous = ref.getAndSet(terminated)
        log.debug(s"query ${query.id}: state $previous -> TERMINATED (no interrupt)")
        true
      case _ => false
    }

  /** True when the execution thread sleeps between triggers (in the trigger executor's clock wait) and no trigger is
    * active. After [[markTerminated]] the loop cannot start another batch, so interrupting the sleep then loses
    * nothing.
    */
  def isWaitingForNextTrigger(query: StreamingQuery): Boolean = thread(query) match {
    case Some(t) if t.isAlive =>
      val s = t.getState
      (s == Thread.State.TIMED_WAITING || s == Thread.State.WAITING) &&
      t.getStackTrace.exists(_.getMethodName == Frames.IdleWaitMethod) &&
      !triggerActive(query)
    case _ => false
  }

  /** True when setting the state to TERMINATED now lets the batch in flight (if any) finish and commit. Spark 4.1
    * checks the state once more after planning a batch and interrupts itself if it finds TERMINATED (the batch is then
    * dropped half-way: a Python sink still runs to its end but is not committed), so the flip must not land between the
    * start of a trigger and the end of its planning. Safe moments: the batch is in its sink stage (`runBatch` inside
    * `SQLExecution`), or the thread is between triggers (waiting for the next one, or in the short sleep Spark takes
    * when there was no data).
    */
  def isSafeToMarkTerminated(query: StreamingQuery): Boolean = thread(query) match {
    case Some(t) if t.isAlive =>
      val before = triggerActive(query)
      val stack = t.getStackTrace
      val inSinkStage = isSinkStage(stack)
      lazy val betweenTriggers = !before && !triggerActive(query) && {
        stack.exists(_.getMethodName == Frames.IdleWaitMethod) ||
        (stack.length > 1 && stack(0).getMethodName == Frames.NoDataSleepMethod &&
          stack(1).getClassName.endsWith(Frames.MicroBatchClass))
      }
      inSinkStage || betweenTriggers
    case _ => false
  }

  /** Wakes a query thread that sleeps between triggers (after [[markTerminated]]) without Spark's 100 ms stall.
    *
    * Spark's `UninterruptibleThread.interrupt()` raises an "interrupt in progress" flag on its lock object, interrupts,
    * then lowers the flag. A woken thread that reaches its uninterruptible clean-up while the flag is still up sleeps
    * 100 ms before it goes on: about one idle stop in ten on two cores. Interrupting while holding that lock's monitor
    * (re-entrant for `interrupt()` itself) makes the woken thread find the flag down. This then waits, at most
    * `waitMs`, until the thread has ended or is inside its uninterruptible clean-up, where the interrupt of
    * `StreamingQuery.stop()` that follows is a no-op instead of raising the flag again. Returns false when this Spark's
    * thread has no such lock; the caller then relies on `stop()` alone.
    */
  def wakeFromTriggerWait(query: StreamingQuery, waitMs: Long): Boolean = thread(query) match {
    case Some(t) if t.isAlive =>
      interruptLock(t) match {
        case Some(lock) =>
          // Spark itself stopped interrupting under this lock (SPARK-51821): an interrupt can close a channel the
          // thread blocks in, which takes other locks. The thread woken here was seen asleep between triggers, marked
          // to start no batch, so it blocks in no channel.
          lock.synchronized(t.interrupt())
          // A Spark whose lock object carries no `uninterruptible` flag has no 100 ms sleep to avoid either: nothing
          // to wait for, `stop()` may follow at once.
          declaredField(lock.getClass, "uninterruptible").foreach { flag =>
            val deadline = System.nanoTime() + waitMs * 1000000L
            def inCleanUp = lock.synchronized(flag.getBoolean(lock))
            while (t.isAlive && !inCleanUp && System.nanoTime() < deadline) Thread.sleep(0, 200000)
          }
          true
        case None => false
      }
    case _ => false
  }

  private def declaredField(cls: Class[_], name: String): Option[java.lang.reflect.Field] =
    Iterator
      .iterate[Class[_]](cls)(_.getSuperclass)
      .takeWhile(_ != null)
      .flatMap(c => Try(c.getDeclaredField(name)).toOption)
      .toSeq
      .headOption
      .flatMap(f => Try { f.setAccessible(true); f }.toOption)

  private def interruptLock(t: Thread): Option[AnyRef] =
    declaredField(t.getClass, "uninterruptibleLock").flatMap(f => Option(f.get(t)))

  private def isSinkStage(stack: Array[StackTraceElement]): Boolean =
    stack.exists(_.getClassName.startsWith(Frames.SqlExecutionClass)) &&
      stack.exists(f =>
        f.getClassName.contains(Frames.MicroBatchClass) && f.getMethodName.contains(Frames.RunBatchMethod)
      )

  /** The id of the batch in its sink stage now, if one is (so a stop marked now ends right after that batch). Spark 4
    * keeps the id in the execution context of the batch, Spark 3.5 on the execution itself.
    */
  def batchInSinkStage(query: StreamingQuery): Option[Long] = thread(query) match {
    case Some(t) if t.isAlive && isSinkStage(t.getStackTrace) => inFlightBatchId(query)
    case _ => None
  }

  /** The id of the batch being planned or run (Spark 4: the latest execution context's; 3.5: `currentBatchId`). */
  def inFlightBatchId(query: StreamingQuery): Option[Long] = Try {
    val exec = execution(query)
    method(exec, "getLatestExecutionContext") match {
      case Some(m) =>
        val ctx = m.invoke(exec)
        ctx.getClass.getMethod("batchId").invoke(ctx).asInstanceOf[Long]
      case None => exec.getClass.getMethod("currentBatchId").invoke(exec).asInstanceOf[Long]
    }
  }.toOption

  /** Whether a trigger (a batch, or the planning of one) is running now. */
  def triggerActive(query: StreamingQuery): Boolean =
    try query.status.isTriggerActive
    catch { case NonFatal(_) => false }
}
