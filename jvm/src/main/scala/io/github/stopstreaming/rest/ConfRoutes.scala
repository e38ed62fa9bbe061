package io.github.stopstreaming.rest

import com.sun.net.httpserver.HttpExchange
import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._

/** The dynamic configuration resource: `GET /api/v1/conf`, and `GET`, `PUT`, `DELETE` of `/api/v1/conf/{key}`
  * (`If-Match: <version>` makes a change a compare-and-set).
  */
private[rest] final class ConfRoutes(plane: ControlPlane, caller: HttpExchange => Caller) {

  /** `GET /api/v1/conf`. */
  def all(req: Request): Response = {
    req.requireMethod("GET")
    req.onlyParams()
    Response(200, Json.conf(plane.dynamicConf.snapshot))
  }

  /** `/api/v1/conf/{key}`. */
  def one(req: Request, key: String): Response = {
    req.onlyParams()
    try {
      DynamicConfStore.checkKey(key).left.foreach(r => throw HttpError.badRequest(r.message))
      req.method match {
        case "GET" =>
          plane.dynamicConf
            .get(key)
            .map(e => Response(200, Json.confEntry(key, e)))
            .getOrElse(throw Outcomes.keyNotFound(key))
        case "PUT" =>
          val value = RequestParts.utf8(req.body).getOrElse(throw HttpError.badRequest("the value must be UTF-8 text"))
          Response(200, Json.confEntry(key, plane.setConf(key, value, ifMatch(req), "rest", caller(req.exchange))))
        case "DELETE" =>
          plane.unsetConf(key, ifMatch(req), "rest", caller(req.exchange)) match {
            case Some(e) => Response(200, Json.confEntry(key, e))
            case None => throw Outcomes.keyNotFound(key)
          }
        case _ => throw HttpError.methodNotAllowed("GET", "PUT", "DELETE")
      }
    } catch { case e: ConfChangeException => throw Outcomes.confRefused(e) }
  }

  /** `If-Match: 3` (or `"3"`): the key's version the change expects; 0 means "absent". */
  private def ifMatch(req: Request): Option[Long] =
    req.header("If-Match").map { raw =>
      val v = raw.trim.stripPrefix("W/").stripPrefix("\"").stripSuffix("\"")
      if (v.nonEmpty && v.length <= 18 && v.forall(_.isDigit)) v.toLong
      else throw HttpError.badRequest(s"If-Match must be a version number, not '${raw.take(40)}'")
    }
}
