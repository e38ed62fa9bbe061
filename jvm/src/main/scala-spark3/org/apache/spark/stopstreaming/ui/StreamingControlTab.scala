package org.apache.spark.stopstreaming.ui

import scala.xml.Node

import javax.servlet.http.{HttpServlet, HttpServletRequest, HttpServletResponse}
import org.apache.spark.ui.{SparkUITab, UIUtils, WebUIPage}

/** The "Streaming Control" tab (Spark 3 line: javax.servlet); everything it shows and does is in [[ControlTabContent]].
  */
private[spark] final class StreamingControlTab(content: ControlTabContent)
    extends SparkUITab(content.ui, StreamingControlTab.Prefix) {
  override val name: String = "Streaming Control"

  attachPage(new WebUIPage("") {
    override def render(request: HttpServletRequest): Seq[Node] = {
      // Jetty answers the handler's path without the slash with a redirect, which a POST would not survive.
      val action = UIUtils.prependBaseUri(request, s"/${StreamingControlTab.Prefix}/stop/")
      // Only what the tab itself said: a link cannot make the tab show a stranger's text beside its token field.
      val message = Option(request.getParameter("done")).flatMap(content.recall)
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
          TabStopRequest.from(
            req.getRemoteUser,
            name => Option(req.getParameter(name)),
            name => Option(req.getHeader(name)),
            Option(req.getQueryString),
            Option(req.getRemoteAddr)
          )
        )
        result match {
          case Right(done) =>
            val back = UIUtils.prependBaseUri(req, s"/${StreamingControlTab.Prefix}/")
            resp.sendRedirect(back + "?done=" + content.remember(done))
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
