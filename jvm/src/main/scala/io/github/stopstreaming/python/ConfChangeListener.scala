package io.github.stopstreaming.python

/** Implemented in Python (a Py4J callback): told the dynamic configuration's new version after each change, so the
  * Python side re-reads its copy only when something changed.
  */
trait ConfChangeListener {
  def changed(version: Long): Unit
}
