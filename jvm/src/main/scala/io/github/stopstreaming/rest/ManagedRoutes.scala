package io.github.stopstreaming.rest

import java.util.concurrent.{CompletableFuture, Executor, TimeUnit}

import com.sun.net.httpserver.HttpExchange
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._

/** The managed queries resource: `GET /api/v1/managed[/{name}]` and the lifecycle verbs `POST
  * /api/v1/queries/{name}/pause|resume|restart` (`when=`, `timeout=`, `wait=` as for a stop). With `wait=`, the answer
  * comes once the state the verb leads to is reached (PAUSED; RUNNING again, or BACKOFF, FAILED), or the wait ran out
  * (202), holding no thread meanwhile.
  */
private[rest] final class ManagedRoutes(plane: ControlPlane, answers: Executor, caller: HttpExchange => Caller) {

  /** `GET /api/v1/managed`. */
  def list(req: Request): Response = {
    req.requireMethod("GET")
    req.onlyParams()
    Response(200, Json.obj("managed" -> plane.managed.views.map(Json.managed)))
  }

  /** `GET /api/v1/managed/{name}`. */
  def one(req: Request, name: String): Response = {
    req.requireMethod("GET")
    req.onlyParams()
    Response(200, Json.managed(plane.managed.find(name).getOrElse(throw ManagedRoutes.notManaged(name))))
  }

  /** `POST /api/v1/queries/{name}/{verb}` for verb pause, resume or restart. */
  def act(req: Request, name: String, verb: String): Either[Response, CompletableFuture[Response]] = {
    req.requireMethod("POST")
    val withCondition = verb != "resume"
    if (withCondition) req.onlyParams("when", "timeout", "wait") else req.onlyParams("wait")
    val parsed = StopRequest
      .parse(None, req.params.get("timeout"), req.params.get("when"))
      .fold(m => throw HttpError.badRequest(m), identity)
    val waitMs = ManagedRoutes.waitParam(req)
    val who = caller(req.exchange)
    val runsBefore = plane.managed.find(name).map(_.runs).getOrElse(0)
    val outcome = verb match {
      case "pause" => plane.managed.pause(name, parsed.when, parsed.timeoutMs, StopSource.Rest, who)
      case "resume" => plane.managed.resume(name, StopSource.Rest, who)
      case _ => plane.managed.restart(name, parsed.when, parsed.timeoutMs, StopSource.Rest, who)
    }
    val reached = ManagedQueries.reached(verb, runsBefore)
    outcome match {
      case ManagedOutcome.NotFound => throw ManagedRoutes.notManaged(name)
      case ManagedOutcome.Conflict(v, why) =>
        throw HttpError(
          409,
          why,
          body = Some(Json.obj("error" -> why, "code" -> ManagedRoutes.LifecycleConflict, "managed" -> Json.managed(v)))
        )
      case ManagedOutcome.Accepted(v, changed) =>
        def answer(now: ManagedView): Response =
          Response(if (reached(now) || !changed) 200 else 202, Json.managed(now))
        if (waitMs <= 0 || !changed) Left(answer(v))
        else {
          val settled = plane.managed.when(name)(reached).getOrElse(CompletableFuture.completedFuture(v))
          Right(
            settled
              .orTimeout(waitMs, TimeUnit.MILLISECONDS)
              .handleAsync((_, _) => answer(plane.managed.find(name).getOrElse(v)), answers)
          )
        }
    }
  }

  /** `POST /api/v1/queries/{name}/stop` for a managed query that has no run now (PAUSED, BACKOFF): it is STOPPED. */
  def stopWithoutRun(req: Request, name: String): Option[Response] =
    plane.managed
      .find(name)
      .filter(v => req.method == "POST" && v.runId.isEmpty && !v.state.done)
      .filter(_ => plane.registry.runningQueries.forall(!_.name.contains(name)))
      .map { _ =>
        req.onlyParams("mode", "timeout", "wait", "when")
        val parsed = StopRequest
          .parse(req.params.get("mode"), req.params.get("timeout"), req.params.get("when"))
          .fold(m => throw HttpError.badRequest(m), identity)
        ManagedRoutes.waitParam(req)
        if (parsed.when != StopCondition.Now)
          throw HttpError.badRequest(
            s"'$name' has no run now (${plane.managed.find(name).map(_.state).orNull}): " +
              "it stops at once; leave out when"
          )
        plane.managed.stop(name, StopSource.Rest, caller(req.exchange)) match {
          case ManagedOutcome.Accepted(v, _) => Response(200, Json.managed(plane.managed.find(name).getOrElse(v)))
          case ManagedOutcome.Conflict(v, _) => Response(200, Json.managed(v))
          case ManagedOutcome.NotFound => throw ManagedRoutes.notManaged(name)
        }
      }
}

private[rest] object ManagedRoutes {

  val NotManaged = "not-managed"
  val LifecycleConflict = "lifecycle-conflict"

  def notManaged(name: String): HttpError =
    HttpError.notFound(
      s"no managed query named '${SafeText.name(name)}' (only queries started with manage() can be paused, resumed " +
        "or restarted)",
      NotManaged
    )

  def waitParam(req: Request): Long = {
    val ms = req.params
      .get("wait")
      .map(v =>
        Durations
          .parse(v)
          .getOrElse(throw HttpError.badRequest(s"wait '$v' is not a duration such as 500ms, 30s or 5m"))
      )
      .getOrElse(0L)
    if (ms > QueryRoutes.MaxWaitMs)
      throw HttpError.badRequest(s"parameter 'wait' is at most ${QueryRoutes.MaxWaitMs / 60000}m")
    ms
  }
}
