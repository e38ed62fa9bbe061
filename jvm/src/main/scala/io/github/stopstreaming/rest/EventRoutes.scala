package io.github.stopstreaming.rest

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.ControlPlane

/** The audit trail resource: `GET /api/v1/events?since=<record number>`. */
private[rest] final class EventRoutes(plane: ControlPlane) {

  def since(req: Request): Response = {
    req.requireMethod("GET")
    req.onlyParams("since")
    val since = req.params.get("since").map { v =>
      if (v.nonEmpty && v.length <= 18 && v.forall(_.isDigit)) v.toLong
      else throw HttpError.badRequest(s"parameter 'since' must be a record number, not '${v.take(40)}'")
    }
    Response(200, Json.obj("events" -> plane.audit.since(since.getOrElse(0L)).map(Json.auditRecord)))
  }
}
