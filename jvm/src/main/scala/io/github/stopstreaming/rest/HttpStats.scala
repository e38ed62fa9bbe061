package io.github.stopstreaming.rest

import java.util.concurrent.atomic.LongAdder

/** What the control servers answered, counted for the metrics: requests by status class, and refusals by reason. */
final class HttpStats {
  val byClass: Map[Int, LongAdder] = (1 to 5).map(_ -> new LongAdder).toMap
  val refusedAuth = new LongAdder
  val refusedOrigin = new LongAdder
  val refusedHost = new LongAdder

  def answered(status: Int): Unit = byClass.get(status / 100).foreach(_.increment())
}
