package org.apache.spark.stopstreaming.ui

import scala.xml.Node

import javax.servlet.http.{HttpServlet, HttpServletRequest, HttpServletResponse}
import io.github.stopstreaming.core.Secrets
import org.apache.spark.ui.{SparkUITab, UIUtils, WebUIPage}

/** The "Streaming Control" tab (Spark 3 line: javax.servlet); everything it shows and does is in [[ControlTabContent]]. */
private[spark] final class StreamingControlTab(content: ControlTabContent)
    extends SparkUITab(content.ui, StreamingControlTab.Prefix) {
  override val name: String = "Streaming Control"

  attachPage(new WebUIPage("") {
    override def render(request: HttpServletRequest): Seq[Node] = {
      // Jetty answers the handler's path without the slash with a redirect, which a POST would not survive.
      val action = UIUtils.prependBaseUri(request, s"/${StreamingControlTab.Prefix}/stop/")
      val message = Option(request.getParameter("message")).map(_.take(300))
      ControlTab.page(
        request,
        "Streaming Control",
        () => content.content(request.getRemoteUser, action, message),
        StreamingControlTab.this
      )
    }
  })

  private[ui] val stopServlet: HttpServlet =
    new HttpServlet {
      override def doPost(req: HttpServletRequest, resp: HttpServletResponse): Unit = {
        val result = content.stop(
          TabStopRequest(
            req.getRemoteUser,
            Option(req.getParameter("id")),
            Option(req.getParameter("mode")),
            Option(req.getParameter("token")).orElse(Secrets.bearerToken(Option(req.getHeader("Authorization")))),
            Option(req.getHeader("Origin")),
            Option(req.getHeader("Host")),
            Option(req.getRemoteAddr)
          )
        )
        result match {
          case Right(done) =>
            val back = UIUtils.prependBaseUri(req, s"/${StreamingControlTab.Prefix}/")
            resp.sendRedirect(back + "?message=" + java.net.URLEncoder.encode(done, "UTF-8"))
          case Left((code, why)) =>
            resp.setContentType("text/plain; charset=utf-8")
            resp.sendError(code, why)
        }
      }
    }
}

private[spark] object StreamingControlTab {
  val Prefix = "stopstreaming"

  def attach(content: ControlTabContent): Unit = {
    val tab = new StreamingControlTab(content)
    content.ui.attachTab(tab)
    ControlTab.attachServlet(content.ui, s"/$Prefix/stop", tab.stopServlet)
  }
}
