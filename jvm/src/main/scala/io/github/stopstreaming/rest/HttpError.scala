package io.github.stopstreaming.rest

/** An expected failure of a request, answered as `{"error": message, "code": kind}` (or `body`, which carries the
  * message too) with its HTTP status. `kind` is a stable, documented code that clients map on; the status alone cannot
  * tell an unknown query from a wrong URL (both 404).
  */
final case class HttpError(
    code: Int,
    message: String,
    headers: Seq[(String, String)] = Nil,
    body: Option[java.util.Map[String, Any]] = None,
    errorCode: Option[String] = None
) extends RuntimeException(message, null, false, false) {

  /** The error's stable code: the one given, or the status's general one. */
  def kind: String = errorCode.getOrElse(HttpError.generalCode(code))
}

object HttpError {
  // The codes of docs/http-api.md; a client maps on these, so they never change meaning.
  val QueryNotFound = "query-not-found"
  val KeyNotFound = "key-not-found"
  val NoSuchEndpoint = "no-such-endpoint"
  val AmbiguousName = "ambiguous-name"
  val NothingPending = "nothing-pending"
  val AlreadyEnded = "already-ended"
  val CheckpointUnreadable = "checkpoint-unreadable"
  val CheckpointUnavailable = "checkpoint-unavailable"

  /** The code of an error that has no more specific one. */
  def generalCode(status: Int): String = status match {
    case 400 => "bad-request"
    case 401 => "unauthorized"
    case 403 => "forbidden"
    case 404 => "not-found"
    case 405 => "method-not-allowed"
    case 409 => "conflict"
    case 412 => "version-conflict"
    case 413 => "too-large"
    case 503 => "unavailable"
    case _ => "internal"
  }

  def badRequest(m: String): HttpError = HttpError(400, m)
  def notFound(m: String, errorCode: String): HttpError = HttpError(404, m, errorCode = Some(errorCode))
  def methodNotAllowed(allowed: String*): HttpError =
    HttpError(405, s"method not allowed; use ${allowed.mkString(" or ")}", Seq("Allow" -> allowed.mkString(", ")))
}
