package io.github.stopstreaming.rest

import java.io.ByteArrayOutputStream

/** The control page (`GET /`): one HTML file, one script, one style sheet, all in the jar. It calls the API from its
  * own origin, so the origin rules need no exception for it; its headers forbid framing (a page with stop buttons must
  * not be clickjacked) and any script, style or connection from elsewhere.
  */
object ControlPage {
  final case class File(bytes: Array[Byte], contentType: String)

  private def load(name: String, contentType: String): File = {
    val in = getClass.getResourceAsStream(s"/io/github/stopstreaming/rest/page/$name")
    require(in != null, s"control page resource $name is missing from the jar")
    try {
      val out = new ByteArrayOutputStream()
      in.transferTo(out)
      File(out.toByteArray, contentType)
    } finally in.close()
  }

  private lazy val files: Map[Seq[String], File] = Map(
    Seq.empty[String] -> load("index.html", "text/html; charset=utf-8"),
    Seq("ui", "app.js") -> load("app.js", "text/javascript; charset=utf-8"),
    Seq("ui", "app.css") -> load("app.css", "text/css; charset=utf-8")
  )

  def file(segments: Seq[String]): Option[File] =
    if (segments.isEmpty || (segments.size == 2 && segments.head == "ui")) files.get(segments) else None

  val Headers: Seq[(String, String)] = Seq(
    "Content-Security-Policy" -> ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
      "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options" -> "DENY",
    "Referrer-Policy" -> "no-referrer"
  )
}
