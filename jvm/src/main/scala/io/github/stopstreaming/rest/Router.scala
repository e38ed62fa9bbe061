package io.github.stopstreaming.rest

import java.io.IOException
import java.util.concurrent.{CompletableFuture, Executor, TimeUnit}

import scala.util.control.NonFatal

import com.sun.net.httpserver.{HttpExchange, HttpHandler}
import io.github.stopstreaming.BuildInfo
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import org.slf4j.LoggerFactory

/** Every request of a control server lands here. Where it comes from is checked first ([[RequestGuard]]); paths match
  * exactly, segment by segment; every request but health must carry the token; every answer is JSON with a stable
  * shape. A stop that waits (`?wait=`) holds no thread: its answer is sent from the stop's completion.
  */
final class Router(
    plane: ControlPlane,
    server: ControlServer,
    guard: RequestGuard,
    answers: Executor,
    json: QueryJsonCache,
    stats: HttpStats
) extends HttpHandler {
  private val log = LoggerFactory.getLogger(getClass)
  private val auth = new BearerAuth(plane.settings.token)

  /** Exchanges whose body was read, until answered. Not an exchange attribute: on JDK 17 those are the context's,
    * shared by every exchange.
    */
  private val bodiesRead = java.util.concurrent.ConcurrentHashMap.newKeySet[HttpExchange]()

  import Router._

  override def handle(ex: HttpExchange): Unit = {
    val cors = Option(ex.getRequestHeaders.getFirst("Origin"))
      .filter(guard.corsAllowed)
      .toSeq
      .flatMap(o => Seq("Access-Control-Allow-Origin" -> o, "Vary" -> "Origin"))
    val answer =
      try route(ex)
      catch { case e: Throwable => Left(failure(ex, e)) }
    answer match {
      case Left(r) => send(ex, r.withHeaders(cors))
      case Right(later) =>
        later.whenComplete { (r, e) =>
          send(ex, (if (e == null) r else failure(ex, e)).withHeaders(cors))
        }
    }
  }

  private def failure(ex: HttpExchange, e: Throwable): Response = e match {
    case h: HttpError =>
      val body = h.body.getOrElse(Json.error(h.message))
      if (!body.containsKey("code")) body.put("code", h.kind)
      Response(h.code, body, h.headers)
    case NonFatal(other) =>
      log.warn(s"stopstreaming: ${SafeText.name(ex.getRequestMethod)} request failed unexpectedly", other)
      Response(500, Json.obj("error" -> "internal error; see the driver log", "code" -> "internal"))
    case fatal => throw fatal
  }

  private def route(ex: HttpExchange): Either[Response, CompletableFuture[Response]] = {
    val method = ex.getRequestMethod
    val headers = ex.getRequestHeaders
    guard
      .check(Option(headers.getFirst("Host")), Option(headers.getFirst("Origin")))
      .foreach { r =>
        (if (r.code == Refusal.ForeignHost) stats.refusedHost else stats.refusedOrigin).increment()
        refusedStop(ex, r)
        throw HttpError(403, r.message, body = Some(Json.obj("error" -> r.message, "code" -> r.code)))
      }
    if (method == "OPTIONS" && Option(headers.getFirst("Origin")).exists(guard.corsAllowed))
      return Left(Response(204, null, Router.PreflightHeaders))

    val segments = RequestParts.segments(ex.getRequestURI.getRawPath).fold(m => throw HttpError.badRequest(m), identity)

    // The control page and its two files hold no data and no secret: served without the token, like health.
    ControlPage.file(segments).foreach { f =>
      if (method != "GET" && method != "HEAD") throw HttpError.methodNotAllowed("GET")
      return Left(Response(200, f.bytes, ControlPage.Headers, f.contentType))
    }

    if (segments == Seq("api", "v1", "health")) {
      requireMethod(method, "GET")
      return Left(Response(200, Json.obj("status" -> "UP", "version" -> BuildInfo.version)))
    }

    try auth.check(Option(ex.getRequestHeaders.getFirst("Authorization")))
    catch {
      case e: HttpError =>
        stats.refusedAuth.increment()
        refusedStop(ex, Refusal(Refusal.Unauthorized, e.message))
        throw e.copy(body = Some(Json.obj("error" -> e.message, "code" -> Refusal.Unauthorized)))
    }

    val declared = Option(ex.getRequestHeaders.getFirst("Content-Length")).map(_.trim)
    if (declared.exists(d => d.forall(_.isDigit) && d.length > 0 && BigInt(d) > ControlServer.MaxBodyBytes)) {
      throw HttpError(
        413,
        s"request body larger than ${ControlServer.MaxBodyBytes} bytes",
        Seq("Connection" -> "close")
      )
    }
    val body = readBody(ex)
      .getOrElse(
        throw HttpError(
          413,
          s"request body larger than ${ControlServer.MaxBodyBytes} bytes",
          Seq("Connection" -> "close")
        )
      )
    val params = RequestParts.query(ex.getRequestURI.getRawQuery).fold(m => throw HttpError.badRequest(m), identity)
    val req = Request(method, segments, params, body, ex)

    segments match {
      case Seq("api", "v1", "queries") =>
        requireMethod(method, "GET")
        onlyParams(req)
        Left(Response(200, json.list(plane.registry.views)))
      case Seq("api", "v1", "queries", idOrName) =>
        requireMethod(method, "GET")
        onlyParams(req)
        Left(Response(200, json.bytes(find(idOrName))))
      case Seq("api", "v1", "queries", idOrName, "stop") =>
        method match {
          case "POST" => stop(req, idOrName)
          case "DELETE" => Left(cancel(req, idOrName))
          case _ => throw HttpError.methodNotAllowed("POST", "DELETE")
        }
      case Seq("api", "v1", "conf") =>
        requireMethod(method, "GET")
        onlyParams(req)
        Left(Response(200, Json.conf(plane.dynamicConf.snapshot)))
      case Seq("api", "v1", "conf", key) =>
        onlyParams(req)
        Left(conf(req, key))
      case Seq("api", "v1", "events") =>
        requireMethod(method, "GET")
        onlyParams(req, "since")
        val since = req.params.get("since").map { v =>
          if (v.nonEmpty && v.length <= 18 && v.forall(_.isDigit)) v.toLong
          else throw HttpError.badRequest(s"parameter 'since' must be a record number, not '${v.take(40)}'")
        }
        Left(Response(200, Json.obj("events" -> plane.audit.since(since.getOrElse(0L)).map(Json.auditRecord))))
      case init :+ id if init.nonEmpty && server.servesStopPath(init) =>
        requireMethod(method, "POST")
        Left(compatibleStop(req, id))
      case _ =>
        val hint = "no such endpoint (is the URL the control server's, with no extra path?)"
        throw HttpError.notFound(hint, HttpError.NoSuchEndpoint)
    }
  }

  private def caller(ex: HttpExchange): Caller =
    Caller(Option(ex.getRemoteAddress).map(_.getAddress.getHostAddress), auth.required)

  /** A stop asked over HTTP and refused before the door is still an audit record (sampled: the caller has no token). */
  private def refusedStop(ex: HttpExchange, r: Refusal): Unit =
    if (ex.getRequestMethod == "POST" || ex.getRequestMethod == "DELETE") {
      val segments = RequestParts.segments(ex.getRequestURI.getRawPath).getOrElse(Nil)
      val target = segments match {
        case Seq("api", "v1", "queries", q, "stop") => Some(q)
        case init :+ id if init.nonEmpty && server.servesStopPath(init) => Some(id)
        case _ => None
      }
      target.foreach { t =>
        plane.refusedStop(t, StopSource.Rest, Caller(caller(ex).address, authenticated = false), r.code, r.message)
      }
    }

  /** A body that cannot be read (cut off, a malformed chunked encoding) is the client's error, not ours. The JDK's
    * chunked decoder throws more than IOException on some malformed sizes (an IndexOutOfBoundsException was seen).
    */
  private def readBody(ex: HttpExchange): Option[Array[Byte]] =
    try {
      bodiesRead.add(ex)
      RequestParts.readBody(ex.getRequestBody, ControlServer.MaxBodyBytes)
    } catch {
      case NonFatal(e) =>
        val why = Option(e.getMessage).getOrElse(e.getClass.getSimpleName)
        throw HttpError(400, s"the request body could not be read ($why)", Seq("Connection" -> "close"))
    }

  private def conf(req: Request, key: String): Response = {
    val store = plane.dynamicConf
    try {
      DynamicConfStore.checkKey(key).left.foreach(r => throw HttpError.badRequest(r.message))
      req.method match {
        case "GET" =>
          store
            .get(key)
            .map(e => Response(200, Json.confEntry(key, e)))
            .getOrElse(throw HttpError.notFound(s"no key '$key'", HttpError.KeyNotFound))
        case "PUT" =>
          val value = utf8(req.body).getOrElse(throw HttpError.badRequest("the value must be UTF-8 text"))
          Response(200, Json.confEntry(key, plane.setConf(key, value, ifMatch(req), "rest", caller(req.exchange))))
        case "DELETE" =>
          plane.unsetConf(key, ifMatch(req), "rest", caller(req.exchange)) match {
            case Some(e) => Response(200, Json.confEntry(key, e))
            case None => throw HttpError.notFound(s"no key '$key'", HttpError.KeyNotFound)
          }
        case _ => throw HttpError.methodNotAllowed("GET", "PUT", "DELETE")
      }
    } catch {
      case e: ConfChangeException =>
        throw HttpError(Router.confStatus(e.rejection), e.getMessage, errorCode = Some(Router.confCode(e.rejection)))
    }
  }

  /** `If-Match: 3` (or `"3"`): the key's version the change expects; 0 means "absent". */
  private def ifMatch(req: Request): Option[Long] =
    Option(req.exchange.getRequestHeaders.getFirst("If-Match")).map { raw =>
      val v = raw.trim.stripPrefix("W/").stripPrefix("\"").stripSuffix("\"")
      if (v.nonEmpty && v.length <= 18 && v.forall(_.isDigit)) v.toLong
      else throw HttpError.badRequest(s"If-Match must be a version number, not '${raw.take(40)}'")
    }

  private def utf8(bytes: Array[Byte]): Option[String] =
    try {
      val d = java.nio.charset.StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
      Some(d.decode(java.nio.ByteBuffer.wrap(bytes)).toString)
    } catch { case _: java.nio.charset.CharacterCodingException => None }

  private def requireMethod(method: String, allowed: String): Unit =
    if (method != allowed) throw HttpError.methodNotAllowed(allowed)

  private def onlyParams(req: Request, names: String*): Unit =
    req.params.keys.find(k => !names.contains(k)).foreach { k =>
      throw HttpError.badRequest(
        s"unknown parameter '$k'" +
          (if (names.isEmpty) "" else s"; known: ${names.mkString(", ")}")
      )
    }

  private def find(idOrName: String): QueryView = plane.registry.lookup(idOrName) match {
    case Lookup.Running(t) => t.view
    case Lookup.Ended(e) => e.view
    case Lookup.NotFound => throw notFound(idOrName)
    case Lookup.Ambiguous(matches) => throw ambiguous(idOrName, matches)
  }

  private def notFound(idOrName: String) =
    HttpError.notFound(s"no query with id or name '$idOrName'", HttpError.QueryNotFound)

  private def ambiguous(name: String, matches: Seq[QueryView]) = {
    val message = s"${matches.size} running queries are named '$name' (in different sessions); name one by id"
    HttpError(
      409,
      message,
      body =
        Some(Json.obj("error" -> message, "code" -> HttpError.AmbiguousName, "matches" -> matches.map(Json.queryRef)))
    )
  }

  private def stop(req: Request, idOrName: String): Either[Response, CompletableFuture[Response]] = {
    onlyParams(req, "mode", "timeout", "wait", "when")
    val request =
      StopRequest
        .parse(req.params.get("mode"), req.params.get("timeout"), req.params.get("when"))
        .fold(m => throw HttpError.badRequest(m), identity)
    val waitMs = req.params
      .get("wait")
      .map(v =>
        Durations
          .parse(v)
          .getOrElse(throw HttpError.badRequest(s"wait '$v' is not a duration such as 500ms, 30s or 5m"))
      )
      .getOrElse(0L)
    if (waitMs > MaxWaitMs) throw HttpError.badRequest(s"parameter 'wait' is at most ${MaxWaitMs / 60000}m")
    val outcome = plane.requestStop(idOrName, request, StopSource.Rest, caller(req.exchange))
    outcome match {
      case StopOutcome.NotFound => throw notFound(idOrName)
      case StopOutcome.Ambiguous(matches) => throw ambiguous(idOrName, matches)
      case StopOutcome.AlreadyEnded(e) => Left(Response(200, Json.query(e.view)))
      // Accepted or pending: with wait=, answered once the stop settled (a pending one: fired and finished, or
      // cancelled, replaced, its query ended) or the wait ran out, from that future, holding no thread meanwhile.
      case StopOutcome.Accepted(t, _) => waitForEnd(t, plane.settled(outcome), waitMs)
      case StopOutcome.Pending(t, _) => waitForEnd(t, plane.settled(outcome), waitMs)
    }
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

  /** `DELETE /api/v1/queries/{idOrName}/stop`: cancels a pending conditional stop; 409 when there is none. */
  private def cancel(req: Request, idOrName: String): Response = {
    onlyParams(req)
    plane.cancelStop(idOrName, StopSource.Rest, caller(req.exchange)) match {
      case CancelOutcome.Cancelled(t, _) => Response(200, Json.query(t.view))
      case CancelOutcome.NothingPending(t) =>
        val why = t.stop match {
          case Some(s) => s"the stop of '$idOrName' is already ${s.phase} and cannot be cancelled"
          case None => s"'$idOrName' has no pending stop to cancel"
        }
        throw HttpError(409, why, errorCode = Some(HttpError.NothingPending))
      case CancelOutcome.AlreadyEnded(_) =>
        throw HttpError(409, s"'$idOrName' has already ended", errorCode = Some(HttpError.AlreadyEnded))
      case CancelOutcome.NotFound => throw notFound(idOrName)
      case CancelOutcome.Ambiguous(matches) => throw ambiguous(idOrName, matches)
    }
  }

  /** `POST /stop/<id>` as the stopstreaming 0.x API answered it: the configured stop, then 200 with the query. */
  private def compatibleStop(req: Request, id: String): Response = {
    onlyParams(req)
    plane.requestStop(id, StopRequest.Default, StopSource.Rest, caller(req.exchange)) match {
      case StopOutcome.NotFound => throw notFound(id)
      case StopOutcome.Ambiguous(matches) => throw ambiguous(id, matches)
      case StopOutcome.AlreadyEnded(e) => Response(200, Json.query(e.view))
      case StopOutcome.Accepted(t, _) => Response(200, Json.query(t.view))
      case StopOutcome.Pending(t, _) => Response(202, Json.query(t.view))
    }
  }

  private def send(ex: HttpExchange, r: Response): Unit =
    try {
      val bytes = r.body match {
        case null => Array.emptyByteArray
        case raw: Array[Byte] => raw
        case other => Json.bytes(other)
      }
      val h = ex.getResponseHeaders
      if (!bodyConsumed(ex)) h.set("Connection", "close")
      h.set("Content-Type", r.contentType)
      h.set("Cache-Control", "no-store")
      h.set("X-Content-Type-Options", "nosniff")
      r.headers.foreach { case (k, v) => h.set(k, v) }
      stats.answered(r.code)
      if (ex.getRequestMethod == "HEAD" || bytes.isEmpty) ex.sendResponseHeaders(r.code, -1)
      else {
        ex.sendResponseHeaders(r.code, bytes.length.toLong)
        ex.getResponseBody.write(bytes)
      }
    } catch {
      case _: IOException => // the client went away; nothing to tell it
    } finally ex.close()

  /** A request answered before its body was read (refused, say) has its connection closed rather than drained: the JDK
    * server is told not to drain (`drainAmount=0`), so a client that announces a body and never sends it holds no
    * thread once answered. A request without a body is read to its (empty) end here, which costs nothing and keeps the
    * connection alive.
    */
  private def bodyConsumed(ex: HttpExchange): Boolean =
    bodiesRead.remove(ex) || {
      val h = ex.getRequestHeaders
      val length = Option(h.getFirst("Content-Length")).map(_.trim)
      val empty = h.getFirst("Transfer-Encoding") == null && length.forall(_ == "0")
      empty && (try ex.getRequestBody.read() < 0
      catch { case _: IOException => false })
    }
}

object Router {
  private final case class Request(
      method: String,
      segments: Seq[String],
      params: Map[String, String],
      body: Array[Byte],
      exchange: HttpExchange
  )

  private final case class Response(
      code: Int,
      body: AnyRef,
      headers: Seq[(String, String)] = Nil,
      contentType: String = "application/json; charset=utf-8"
  ) {
    def withHeaders(more: Seq[(String, String)]): Response = if (more.isEmpty) this else copy(headers = headers ++ more)
  }

  private val MaxWaitMs = 10 * 60 * 1000L

  /** The answer to a CORS preflight from an allowed origin. */
  private val PreflightHeaders = Seq(
    "Access-Control-Allow-Methods" -> "GET, POST, PUT, DELETE",
    "Access-Control-Allow-Headers" -> "Authorization, Content-Type, If-Match",
    "Access-Control-Max-Age" -> "600"
  )

  /** The HTTP status of each reason the store gives for refusing a change. */
  /** The stable code of a refused conf change. */
  def confCode(r: ConfRejection): String = r match {
    case _: ConfRejection.InvalidKey => "invalid-key"
    case _: ConfRejection.ValueTooLarge => "too-large"
    case _: ConfRejection.StoreFull => "store-full"
    case _: ConfRejection.StoreTooLarge => "too-large"
    case _: ConfRejection.VersionConflict => "version-conflict"
    case _: ConfRejection.NotSaved => "not-saved"
  }

  def confStatus(r: ConfRejection): Int = r match {
    case _: ConfRejection.InvalidKey => 400
    case _: ConfRejection.ValueTooLarge => 413
    case _: ConfRejection.StoreFull => 400
    case _: ConfRejection.StoreTooLarge => 413
    case _: ConfRejection.VersionConflict => 412
    case _: ConfRejection.NotSaved => 503
  }
}
