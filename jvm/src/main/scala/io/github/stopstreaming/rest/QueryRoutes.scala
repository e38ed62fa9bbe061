package io.github.stopstreaming.rest

import java.util.concurrent.{CompletableFuture, Executor, TimeUnit}

import com.sun.net.httpserver.HttpExchange
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._

/** The queries resource: `/api/v1/queries`, one query, its stop (`POST`, `DELETE` to cancel), and the 0.x API's `POST
  * {stopPath}/{id}`. A stop that waits (`?wait=`) holds no thread: its answer is sent from the stop's completion, on
  * `answers`.
  */
private[rest] final class QueryRoutes(
    plane: ControlPlane,
    json: QueryJsonCache,
    answers: Executor,
    caller: HttpExchange => Caller,
    checkpoints: CheckpointReports
) {
  import QueryRoutes._

  /** `GET /api/v1/queries`. */
  def list(req: Request): Response = {
    req.requireMethod("GET")
    req.onlyParams()
    Response(200, json.list(plane.registry.views))
  }

  /** `GET /api/v1/queries/{idOrName}`. */
  def one(req: Request, idOrName: String): Response = {
    req.requireMethod("GET")
    req.onlyParams()
    val view = plane.registry.lookup(idOrName) match {
      case Lookup.Running(t) => t.view
      case Lookup.Ended(e) => e.view
      case Lookup.NotFound => throw Outcomes.queryNotFound(idOrName)
      case Lookup.Ambiguous(matches) => throw Outcomes.ambiguous(idOrName, matches)
    }
    Response(200, json.bytes(view))
  }

  /** `GET /api/v1/queries/{idOrName}/checkpoint`: what a restart from the query's checkpoint would run, read on the
    * checkpoint readers' threads and answered from that read, holding no request thread.
    */
  def checkpoint(req: Request, idOrName: String): Either[Response, CompletableFuture[Response]] = {
    req.requireMethod("GET")
    req.onlyParams()
    val (root, running) = plane.registry.lookup(idOrName) match {
      case Lookup.Running(t) => (t.checkpointRoot, t.isRunning)
      case Lookup.Ended(e) => (e.checkpointRoot, false)
      case Lookup.NotFound => throw Outcomes.queryNotFound(idOrName)
      case Lookup.Ambiguous(matches) => throw Outcomes.ambiguous(idOrName, matches)
    }
    val at = root.getOrElse(
      throw Outcomes.checkpointFailure(idOrName, new CheckpointException("this Spark does not tell where it is"))
    )
    val read = checkpoints.report(at)
    def answer(report: CheckpointReport, failure: Throwable): Response = {
      val cause = failure match {
        case c: java.util.concurrent.CompletionException if c.getCause != null => c.getCause
        case other => other
      }
      if (cause != null) {
        val e = Outcomes.checkpointFailure(idOrName, cause)
        Response(e.code, Json.obj("error" -> e.message, "code" -> e.kind))
      } else {
        val body = Json.checkpointReport(report)
        body.put("running", running)
        Response(200, body)
      }
    }
    if (read.isDone) Left(read.handle[Response](answer _).join())
    else
      Right(read.copy().orTimeout(CheckpointReports.WaitMs, TimeUnit.MILLISECONDS).handleAsync(answer _, answers))
  }

  /** `/api/v1/queries/{idOrName}/stop`: `POST` asks for a stop, `DELETE` cancels a pending one. */
  def stop(req: Request, idOrName: String): Either[Response, CompletableFuture[Response]] = req.method match {
    case "POST" => requestStop(req, idOrName)
    case "DELETE" =>
      req.onlyParams()
      Left(Outcomes.cancelled(idOrName, plane.cancelStop(idOrName, StopSource.Rest, caller(req.exchange))))
    case _ => throw HttpError.methodNotAllowed("POST", "DELETE")
  }

  private def requestStop(req: Request, idOrName: String): Either[Response, CompletableFuture[Response]] = {
    req.onlyParams("mode", "timeout", "wait", "when")
    val request =
      StopRequest
        .parse(req.params.get("mode"), req.params.get("timeout"), req.params.get("when"))
        .fold(m => throw HttpError.badRequest(m), identity)
    val waitMs = ManagedRoutes.waitParam(req)
    val outcome = plane.requestStop(idOrName, request, StopSource.Rest, caller(req.exchange))
    Outcomes
      .stopFailure(idOrName)
      .applyOrElse(
        outcome,
        (_: StopOutcome) match {
          case StopOutcome.AlreadyEnded(e) => Left(Response(200, Json.query(e.view)))
          // Accepted or pending: with wait=, answered once the stop settled (a pending one: fired and finished, or
          // cancelled, replaced, its query ended) or the wait ran out, from that future, holding no thread meanwhile.
          case StopOutcome.Accepted(t, _) => waitForEnd(t, plane.settled(outcome), waitMs)
          case StopOutcome.Pending(t, _) => waitForEnd(t, plane.settled(outcome), waitMs)
          case other => throw new IllegalStateException(s"unexpected outcome $other")
        }
      )
  }

  private def waitForEnd(
      t: TrackedQuery,
      settled: CompletableFuture[Unit],
      waitMs: Long
  ): Either[Response, CompletableFuture[Response]] = {
    def answer(): Response = {
      val ended = !t.isRunning && (t.stop.isEmpty || t.stopDone.isDone)
      Response(if (ended) 200 else 202, Json.query(t.view))
    }
    if (waitMs <= 0 || settled.isDone) Left(answer())
    // A copy, so the timeout ends this wait only, not the stop's own future.
    else Right(settled.copy().orTimeout(waitMs, TimeUnit.MILLISECONDS).handleAsync((_, _) => answer(), answers))
  }

  /** `POST {stopPath}/{id}` as the stopstreaming 0.x API answered it: the configured stop, then 200 with the query. */
  def compatibleStop(req: Request, id: String): Response = {
    req.requireMethod("POST")
    req.onlyParams()
    val outcome = plane.requestStop(id, StopRequest.Default, StopSource.Rest, caller(req.exchange))
    Outcomes
      .stopFailure(id)
      .applyOrElse(
        outcome,
        (_: StopOutcome) match {
          case StopOutcome.AlreadyEnded(e) => Response(200, Json.query(e.view))
          case StopOutcome.Accepted(t, _) => Response(200, Json.query(t.view))
          case StopOutcome.Pending(t, _) => Response(202, Json.query(t.view))
          case other => throw new IllegalStateException(s"unexpected outcome $other")
        }
      )
  }
}

private[rest] object QueryRoutes {
  val MaxWaitMs: Long = 10 * 60 * 1000L
}
