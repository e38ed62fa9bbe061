package io.github.stopstreaming.core

/** The one rule for the base path of `POST {stopPath}/{queryId}` (`/stop` by default). */
object StopPaths {
  private val Segment = "[A-Za-z0-9._~-]+"

  /** Right(()) for a path such as `/stop` or `/ops/stop`; Left(why) otherwise. */
  def check(p: String): Either[String, Unit] =
    if (p == null || !p.matches(s"(/$Segment)+") || p.split('/').exists(s => s == "." || s == ".."))
      Left(s"'$p' must look like /stop: one or more plain path segments, no trailing slash")
    else if (p == "/api" || p.startsWith("/api/")) Left(s"'$p' must not be under /api, which the control API uses")
    else Right(())

  /** The path's segments, as the HTTP router compares them. */
  def segments(p: String): Seq[String] = p.split('/').filter(_.nonEmpty).toSeq
}
