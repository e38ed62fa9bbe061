package io.github.stopstreaming.core

import org.slf4j.Logger

/** Runs the body of a periodic task so that nothing it throws ends the task for good: a scheduled task that throws is
  * never run again. Everything is caught and logged (a `NoSuchMethodError` from a Spark we were not built for, say),
  * except the JVM's own fatal errors.
  */
object Guarded {
  def run(log: Logger, what: => String)(body: => Unit): Unit =
    try body
    catch {
      case fatal: VirtualMachineError => throw fatal
      case e: InterruptedException => Thread.currentThread().interrupt(); log.debug(s"$what interrupted", e)
      case e: Throwable => log.warn(s"$what failed (it will run again)", e)
    }
}
