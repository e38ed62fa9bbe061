package io.github.stopstreaming.rest

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._

/** The one place where what the control plane answered, and every refusal, becomes an HTTP status and a stable error
  * code (the table of docs/http-api.md).
  */
private[stopstreaming] object Outcomes {

  def queryNotFound(idOrName: String): HttpError =
    HttpError.notFound(s"no query with id or name '$idOrName'", HttpError.QueryNotFound)

  def keyNotFound(key: String): HttpError = HttpError.notFound(s"no key '$key'", HttpError.KeyNotFound)

  def noSuchEndpoint: HttpError =
    HttpError.notFound(
      "no such endpoint (is the URL the control server's, with no extra path?)",
      HttpError.NoSuchEndpoint
    )

  def ambiguous(name: String, matches: Seq[QueryView]): HttpError = {
    val message = s"${matches.size} running queries are named '$name' (in different sessions); name one by id"
    HttpError(
      409,
      message,
      body =
        Some(Json.obj("error" -> message, "code" -> HttpError.AmbiguousName, "matches" -> matches.map(Json.queryRef)))
    )
  }

  /** A checkpoint that could not be reported: 409 `checkpoint-unreadable` when its content is not what Spark writes (or
    * not a checkpoint, or this Spark hides where it is), 503 `checkpoint-unavailable` when the file system failed or
    * did not answer in time (worth a retry).
    */
  def checkpointFailure(idOrName: String, e: Throwable): HttpError = e match {
    case c: CheckpointException if !c.io =>
      HttpError(
        409,
        s"the checkpoint of '$idOrName' cannot be read: ${c.getMessage}",
        errorCode = Some(HttpError.CheckpointUnreadable)
      )
    case c: CheckpointException =>
      HttpError(
        503,
        s"the checkpoint of '$idOrName' cannot be read now: ${c.getMessage}",
        errorCode = Some(HttpError.CheckpointUnavailable)
      )
    case _: java.util.concurrent.TimeoutException =>
      HttpError(
        503,
        s"the checkpoint of '$idOrName' was not read within ${CheckpointReports.WaitMs / 1000}s; try again",
        errorCode = Some(HttpError.CheckpointUnavailable)
      )
    case other => throw other
  }

  /** A body over the limit, announced or sent; the connection is closed rather than drained. */
  def bodyTooLarge(limit: Int): HttpError =
    HttpError(413, s"request body larger than $limit bytes", Seq("Connection" -> "close"))

  /** A request refused before the routes: 403 for a foreign origin or host, 401 (as `auth` threw it) for the token. */
  def refused(r: Refusal): HttpError =
    HttpError(403, r.message, body = Some(Json.obj("error" -> r.message, "code" -> r.code)))

  def unauthorized(e: HttpError): HttpError =
    e.copy(body = Some(Json.obj("error" -> e.message, "code" -> Refusal.Unauthorized)))

  /** The outcomes of a stop request that are answered at once; accepted and pending ones are the routes' to answer. */
  def stopFailure(idOrName: String): PartialFunction[StopOutcome, Nothing] = {
    case StopOutcome.NotFound => throw queryNotFound(idOrName)
    case StopOutcome.Ambiguous(matches) => throw ambiguous(idOrName, matches)
  }

  /** A cancel's outcome: the query once cancelled, else why not. */
  def cancelled(idOrName: String, outcome: CancelOutcome): Response = outcome match {
    case CancelOutcome.Cancelled(t, _) => Response(200, Json.query(t.view))
    case CancelOutcome.NothingPending(t) =>
      val why = t.stop match {
        case Some(s) => s"the stop of '$idOrName' is already ${s.phase} and cannot be cancelled"
        case None => s"'$idOrName' has no pending stop to cancel"
      }
      throw HttpError(409, why, errorCode = Some(HttpError.NothingPending))
    case CancelOutcome.AlreadyEnded(_) =>
      throw HttpError(409, s"'$idOrName' has already ended", errorCode = Some(HttpError.AlreadyEnded))
    case CancelOutcome.NotFound => throw queryNotFound(idOrName)
    case CancelOutcome.Ambiguous(matches) => throw ambiguous(idOrName, matches)
  }

  /** A refused change of the dynamic configuration. */
  def confRefused(e: ConfChangeException): HttpError =
    HttpError(confStatus(e.rejection), e.getMessage, errorCode = Some(confCode(e.rejection)))

  /** The stable code of each reason the store gives for refusing a change. */
  def confCode(r: ConfRejection): String = r match {
    case _: ConfRejection.InvalidKey => "invalid-key"
    case _: ConfRejection.ValueTooLarge => "too-large"
    case _: ConfRejection.StoreFull => "store-full"
    case _: ConfRejection.StoreTooLarge => "too-large"
    case _: ConfRejection.VersionConflict => "version-conflict"
    case _: ConfRejection.Reserved => "reserved-key"
    case _: ConfRejection.NotSaved => "not-saved"
  }

  /** The HTTP status of each reason the store gives for refusing a change. */
  def confStatus(r: ConfRejection): Int = r match {
    case _: ConfRejection.InvalidKey => 400
    case _: ConfRejection.ValueTooLarge => 413
    case _: ConfRejection.StoreFull => 400
    case _: ConfRejection.StoreTooLarge => 413
    case _: ConfRejection.VersionConflict => 412
    case _: ConfRejection.Reserved => 409
    case _: ConfRejection.NotSaved => 503
  }
}
