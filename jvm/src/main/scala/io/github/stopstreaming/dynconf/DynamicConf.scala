package io.github.stopstreaming.dynconf

import io.github.stopstreaming.core.DynamicConfStore
import io.github.stopstreaming.runtime.StopStreamingRuntime

/** What a streaming job reads on the driver (in `foreachBatch`, or while building a batch):
  * `DynamicConf.getOrElse("threshold", "10")`. No network call, no lock; a value changed over HTTP is seen by every
  * read that starts after the change was answered.
  */
object DynamicConf {
  private def store: Option[DynamicConfStore] = StopStreamingRuntime.plane.map(_.dynamicConf)

  /** The current value of `key`, if set. */
  def get(key: String): Option[String] = store.flatMap(_.get(key)).map(_.value)

  /** The current value of `key`, or `default`. */
  def getOrElse(key: String, default: => String): String = get(key).getOrElse(default)

  /** The store's version: it grows on every change. 0 when nothing was ever set (or no plane runs). */
  def version: Long = store.map(_.version).getOrElse(0L)

  /** Every key and value at one version. */
  def snapshot: Map[String, String] =
    store.map(_.snapshot.entries.map { case (k, e) => k -> e.value }).getOrElse(Map.empty)
}
