package io.github.stopstreaming.core

import scala.util.control.NonFatal

import org.apache.spark.network.util.JavaUtils

/** The one duration grammar of stopstreaming: Spark's (`500ms`, `30s`, `5m`, `1h`; a bare number is milliseconds). */
object Durations {

  /** Milliseconds, or None for text that is not a non-negative duration. */
  def parse(text: String): Option[Long] = {
    val t = Option(text).map(_.trim).getOrElse("")
    if (t.isEmpty || t.startsWith("-")) None
    else
      try Some(JavaUtils.timeStringAsMs(t))
      catch { case NonFatal(_) => None }
  }
}
