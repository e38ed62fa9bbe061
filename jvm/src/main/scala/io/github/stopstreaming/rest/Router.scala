package io.github.stopstreaming.rest

import java.io.IOException
import java.util.concurrent.{CompletableFuture, Executor}

import scala.util.control.NonFatal

import com.sun.net.httpserver.{HttpExchange, HttpHandler}
import io.github.stopstreaming.BuildInfo
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import org.slf4j.LoggerFactory

/** Every request of a control server lands here, and this is all it does before handing it to its resource: where it
  * comes from is checked first ([[RequestGuard]]), then the control page and health, which need no token, then the
  * token and the body's size. Paths match exactly, segment by segment, to one of [[QueryRoutes]], [[ConfRoutes]] or
  * [[EventRoutes]]; what an outcome answers is decided in [[Outcomes]]. Every answer is JSON with a stable shape.
  */
final class Router(
    plane: ControlPlane,
    server: ControlServer,
    guard: RequestGuard,
    answers: Executor,
    json: QueryJsonCache,
    stats: HttpStats,
    checkpoints: CheckpointReports
) extends HttpHandler {
  private val log = LoggerFactory.getLogger(getClass)
  private val auth = new BearerAuth(plane.settings.token)

  /** Exchanges whose body was read, until answered. Not an exchange attribute: on JDK 17 those are the context's,
    * shared by every exchange.
    */
  private val bodiesRead = java.util.concurrent.ConcurrentHashMap.newKeySet[HttpExchange]()

  private val queries = new QueryRoutes(plane, json, answers, caller, checkpoints)
  private val conf = new ConfRoutes(plane, caller)
  private val events = new EventRoutes(plane)
  private val managed = new ManagedRoutes(plane, answers, caller)

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
        throw Outcomes.refused(r)
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
      if (method != "GET") throw HttpError.methodNotAllowed("GET")
      return Left(Response(200, Json.obj("status" -> "UP", "version" -> BuildInfo.version)))
    }

    try auth.check(Option(ex.getRequestHeaders.getFirst("Authorization")))
    catch {
      case e: HttpError =>
        stats.refusedAuth.increment()
        refusedStop(ex, Refusal(Refusal.Unauthorized, e.message))
        throw Outcomes.unauthorized(e)
    }

    val declared = Option(ex.getRequestHeaders.getFirst("Content-Length")).map(_.trim)
    if (declared.exists(d => d.forall(_.isDigit) && d.length > 0 && BigInt(d) > ControlServer.MaxBodyBytes))
      throw Outcomes.bodyTooLarge(ControlServer.MaxBodyBytes)
    val body = readBody(ex).getOrElse(throw Outcomes.bodyTooLarge(ControlServer.MaxBodyBytes))
    val params = RequestParts.query(ex.getRequestURI.getRawQuery).fold(m => throw HttpError.badRequest(m), identity)
    val req = Request(method, segments, params, body, ex)

    segments match {
      case Seq("api", "v1", "queries") => Left(queries.list(req))
      case Seq("api", "v1", "queries", idOrName) => Left(queries.one(req, idOrName))
      case Seq("api", "v1", "queries", idOrName, "checkpoint") => queries.checkpoint(req, idOrName)
      case Seq("api", "v1", "queries", idOrName, "stop") =>
        managed.stopWithoutRun(req, idOrName).map(Left(_)).getOrElse(queries.stop(req, idOrName))
      case Seq("api", "v1", "queries", name, verb @ ("pause" | "resume" | "restart")) => managed.act(req, name, verb)
      case Seq("api", "v1", "managed") => Left(managed.list(req))
      case Seq("api", "v1", "managed", name) => Left(managed.one(req, name))
      case Seq("api", "v1", "conf") => Left(conf.all(req))
      case Seq("api", "v1", "conf", key) => Left(conf.one(req, key))
      case Seq("api", "v1", "events") => Left(events.since(req))
      case init :+ id if init.nonEmpty && server.servesStopPath(init) => Left(queries.compatibleStop(req, id))
      case _ => throw Outcomes.noSuchEndpoint
    }
  }

  private def caller(ex: HttpExchange): Caller =
    Caller(Option(ex.getRemoteAddress).map(_.getAddress.getHostAddress), auth.required)

  /** A stop asked over HTTP and refused before the door is still an audit record (sampled: the caller has no token). */
  private def refusedStop(ex: HttpExchange, r: Refusal): Unit =
    if (ex.getRequestMethod == "POST" || ex.getRequestMethod == "DELETE") {
      val segments = RequestParts.segments(ex.getRequestURI.getRawPath).getOrElse(Nil)
      val target = segments match {
        case Seq("api", "v1", "queries", q, "stop" | "pause" | "resume" | "restart") => Some(q)
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

  /** The answer to a CORS preflight from an allowed origin. */
  private val PreflightHeaders = Seq(
    "Access-Control-Allow-Methods" -> "GET, POST, PUT, DELETE",
    "Access-Control-Allow-Headers" -> "Authorization, Content-Type, If-Match",
    "Access-Control-Max-Age" -> "600"
  )
}
