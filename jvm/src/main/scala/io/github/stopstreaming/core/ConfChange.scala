package io.github.stopstreaming.core

/** A change of the dynamic configuration asked at the door: `op` is `set` or `unset`; `refused` says why not. */
final case class ConfChange(key: String, op: String, version: Option[Long], refused: Option[String], source: String)
