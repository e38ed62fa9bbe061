package io.github.stopstreaming.python

/** Implemented in Python (a Py4J callback): handed each new version of the dynamic configuration with its whole
  * snapshot (the JSON of `GET /api/v1/conf`), so a read on the Python side is a dictionary lookup and never a call.
  */
trait ConfChangeListener {
  def changed(version: Long, snapshotJson: String): Unit
}
