package io.github.stopstreaming.core

import java.util.concurrent.ThreadFactory
import java.util.concurrent.atomic.AtomicInteger

/** Daemon threads named `stopstreaming-<role>-<n>`, so they are easy to count and never hold the JVM. */
final class NamedThreads {
  private val counter = new AtomicInteger()

  /** Threads for `role`; `stackBytes` > 0 asks for a smaller stack than the JVM's default (a hint the JVM may round).
    */
  def factory(role: String, stackBytes: Long = 0): ThreadFactory = (r: Runnable) => {
    val t = new Thread(null, r, s"${NamedThreads.Prefix}$role-${counter.incrementAndGet()}", stackBytes)
    t.setDaemon(true)
    t
  }
}

object NamedThreads {
  val Prefix = "stopstreaming-"

  /** How many live threads of this JVM belong to stopstreaming. */
  def count(): Int = {
    import scala.jdk.CollectionConverters._
    Thread.getAllStackTraces.keySet.asScala.count(_.getName.startsWith(Prefix))
  }
}
