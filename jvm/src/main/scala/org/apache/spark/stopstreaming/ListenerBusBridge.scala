package org.apache.spark.stopstreaming

import org.apache.spark.SparkContext
import org.apache.spark.scheduler.SparkListenerEvent

/** Spark keeps its listener bus to itself (`private[spark]`); this one call, in Spark's package, posts stopstreaming's
  * own events on it, so they reach every listener and the event log like Spark's own.
  */
object ListenerBusBridge {
  def post(sc: SparkContext, event: SparkListenerEvent): Unit = sc.listenerBus.post(event)
}
