package io.github.stopstreaming

import java.util.Properties

/** The version this jar was built as (the Python package checks it against its own). */
object BuildInfo {
  private val props: Properties = {
    val p = new Properties()
    val in = getClass.getResourceAsStream("/io/github/stopstreaming/version.properties")
    if (in != null)
      try p.load(in)
      finally in.close()
    p
  }

  val version: String = props.getProperty("version", "unknown")
}
