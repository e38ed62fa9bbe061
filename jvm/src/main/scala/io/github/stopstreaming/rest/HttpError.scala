package io.github.stopstreaming.rest

/** An expected failure of a request, answered as `{"error": message}` (or `body`, which carries the message too) with
  * its code.
  */
final case class HttpError(
    code: Int,
    message: String,
    headers: Seq[(String, String)] = Nil,
    body: Option[java.util.Map[String, Any]] = None
) extends RuntimeException(message, null, false, false)

object HttpError {
  def badRequest(m: String): HttpError = HttpError(400, m)
  def notFound(m: String): HttpError = HttpError(404, m)
  def methodNotAllowed(allowed: String*): HttpError =
    HttpError(405, s"method not allowed; use ${allowed.mkString(" or ")}", Seq("Allow" -> allowed.mkString(", ")))
}
