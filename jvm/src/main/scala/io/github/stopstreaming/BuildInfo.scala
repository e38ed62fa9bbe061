package io.github.stopstreaming

import java.util.Properties

/** The version this jar was built as, and the Spark line it was built for. */
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
  val sparkVersion: String = props.getProperty("spark", "unknown")
  val scalaBinaryVersion: String = props.getProperty("scala", "unknown")
}
