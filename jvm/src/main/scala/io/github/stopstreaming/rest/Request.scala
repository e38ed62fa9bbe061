package io.github.stopstreaming.rest

import com.sun.net.httpserver.HttpExchange

/** A request as the routes see it: authenticated already, its path split and decoded, its body read. */
private[rest] final case class Request(
    method: String,
    segments: Seq[String],
    params: Map[String, String],
    body: Array[Byte],
    exchange: HttpExchange
) {
  def header(name: String): Option[String] = Option(exchange.getRequestHeaders.getFirst(name))

  def requireMethod(allowed: String): Unit =
    if (method != allowed) throw HttpError.methodNotAllowed(allowed)

  /** Refuses any query parameter but `names`. */
  def onlyParams(names: String*): Unit =
    params.keys.find(k => !names.contains(k)).foreach { k =>
      throw HttpError.badRequest(
        s"unknown parameter '$k'" +
          (if (names.isEmpty) "" else s"; known: ${names.mkString(", ")}")
      )
    }
}
