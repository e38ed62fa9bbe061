package io.github.stopstreaming.rest

/** An answer: `body` is bytes as they are, or a value written as JSON. */
private[rest] final case class Response(
    code: Int,
    body: AnyRef,
    headers: Seq[(String, String)] = Nil,
    contentType: String = "application/json; charset=utf-8"
) {
  def withHeaders(more: Seq[(String, String)]): Response = if (more.isEmpty) this else copy(headers = headers ++ more)
}
