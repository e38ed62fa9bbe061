package org.apache.spark.stopstreaming.ui

import java.util.Locale

import scala.xml.Node

import io.github.stopstreaming.core._
import org.apache.spark.ui.SparkUI

/** What the Streaming Control tab of the Spark UI shows and does, free of servlet types (javax on Spark 3.5, jakarta on
  * 4; the thin tab classes of each line are in `scala-spark3/` and `scala-spark4/`). Stops from the tab follow Spark's
  * own rules for killing jobs: only with `spark.ui.killEnabled`, and only for users with modify permission when ACLs
  * are on. They go through the control plane's door like every other stop.
  */
private[spark] final class ControlTabContent(val plane: ControlPlane, val controlUrl: Option[String], val ui: SparkUI) {

  def canStop(user: String): Boolean = ui.killEnabled && ui.securityManager.checkModifyPermissions(user)

  private def whyNoStop(user: String): Option[String] =
    if (!ui.killEnabled) Some("stopping from the Spark UI is off (spark.ui.killEnabled=false)")
    else if (!ui.securityManager.checkModifyPermissions(user))
      Some(s"user ${Option(user).getOrElse("(anonymous)")} has no modify permission on this application")
    else None

  def content(user: String, stopAction: String, message: Option[String]): Seq[Node] = {
    val stoppable = canStop(user)
    val views = plane.registry.views
    <div>
      <p>
        Queries registered with stopstreaming and their stop state. A graceful stop lets the batch in flight finish
        and commit, then ends the query.
        {
      controlUrl.toSeq.map(u =>
        <span>The full control page (stop progress, dynamic configuration, audit trail):
          <a href={u + "/"} target="_blank" rel="noopener noreferrer">{u + "/"}</a>.</span>
      )
    }
      </p>
      {message.toSeq.map(m => <div class="alert alert-info" role="status">{m}</div>)}
      {whyNoStop(user).toSeq.map(w => <p><em>Stop buttons are off: {w}.</em></p>)}
      <table class="table table-bordered table-sm table-striped" id="stopstreaming-queries">
        <thead>
          <tr><th>Name</th><th>Id</th><th>Active</th><th>Status</th><th>Last batch</th><th>Stop</th><th></th></tr>
        </thead>
        <tbody>{views.map(v => row(v, stoppable, stopAction))}</tbody>
      </table>
    </div>
  }

  private def row(v: QueryView, stoppable: Boolean, stopAction: String): Node = {
    val name = v.name.getOrElse("(unnamed)")
    val stop = v.shownStop.map { s =>
      s.phase.name + v.pending.filter(_ => v.stop.isEmpty).map(p => s" (when ${p.condition})").getOrElse("") +
        s" · ${s.mode}, ${s.source}" + s.detail.map(d => s" · $d").getOrElse("")
    }
    val canAct = stoppable && v.active && v.stop.isEmpty
    <tr>
      <td>{name}</td>
      <td><code>{v.id.toString}</code></td>
      <td>{if (v.active) "yes" else "no"}</td>
      <td>{v.status.map(_.message).getOrElse("-")}</td>
      <td>{v.lastProgress.map(_.batchId.toString).getOrElse("-")}</td>
      <td>{stop.getOrElse("-")}</td>
      <td>{
      if (!canAct) Seq.empty[Node]
      else
        Seq("graceful" -> "Stop gracefully", "immediate" -> "Stop now").map { case (mode, label) =>
          val ask = s"Stop query '${name.replace("'", "")}' ${if (mode == "graceful") "gracefully" else "now"}?"
          <form method="post" action={stopAction} style="display:inline"
                onsubmit={s"return window.confirm(${jsString(ask)});"}>
            <input type="hidden" name="id" value={v.id.toString}/>
            <input type="hidden" name="mode" value={mode}/>
            <button type="submit" class="btn btn-sm btn-outline-danger">{label}</button>
          </form>
        }
    }</td>
    </tr>
  }

  private def jsString(s: String): String =
    "'" + s.flatMap {
      case '\\' => "\\\\"
      case '\'' => "\\'"
      case '<' => "\\x3c"
      case c => c.toString
    } + "'"

  /** A stop asked from the tab: Left(status code, why) when refused, Right(what happened) otherwise. A form posted
    * from another site carries a foreign `Origin`; it is refused, as the stop buttons must not be reachable by CSRF.
    */
  def stop(
      user: String,
      id: Option[String],
      mode: Option[String],
      origin: Option[String],
      host: Option[String],
      address: Option[String]
  ): Either[(Int, String), String] = {
    val sameOrigin = origin.forall { o =>
      val h = o.toLowerCase(Locale.ROOT).replaceFirst("^https?://", "").stripSuffix("/")
      host.exists(_.toLowerCase(Locale.ROOT) == h)
    }
    if (!sameOrigin) Left(403 -> "stops from another web origin are refused")
    else
      whyNoStop(user) match {
        case Some(why) =>
          plane.refusedStop(id.getOrElse("?"), StopSource.SparkUi, Caller(address, authenticated = false), why)
          Left(403 -> why)
        case None =>
          val request = StopRequest.parse(mode, None).left.map(m => (400, m))
          request.flatMap { r =>
            val target = id.filter(_.nonEmpty).getOrElse("")
            plane.requestStop(target, r, StopSource.SparkUi, Caller(address, authenticated = true)) match {
              case StopOutcome.Accepted(t, s) => Right(s"stop of ${t.name.getOrElse(t.id.toString)}: ${s.phase}")
              case StopOutcome.Pending(t, _) => Right(s"stop of ${t.id} is pending")
              case StopOutcome.AlreadyEnded(e) => Right(s"${e.name.getOrElse(e.id.toString)} had already ended")
              case StopOutcome.NotFound => Left(404 -> s"no query with id '$target'")
              case StopOutcome.Ambiguous(_) => Left(409 -> s"'$target' names several queries")
            }
          }
      }
  }
}

/** Attaches the tab when the Spark UI is on; on a Spark whose UI classes differ the tab is skipped with one log line,
  * and the control plane goes on without it.
  */
object ControlTab {
  private val log = org.slf4j.LoggerFactory.getLogger(getClass)
  @volatile private var chromeFailed = false

  /** The tab's page inside Spark's own page chrome (`UIUtils.headerSparkPage`). Its parameter list grows between
    * releases (Spark 4.2 added one), so it is called by reflection, every parameter after the tab taking Spark's own
    * default. Where that fails the content is served bare, with one log line: the tab never answers 500.
    */
  private[ui] def page(request: AnyRef, title: String, content: () => Seq[Node], tab: AnyRef): Seq[Node] =
    try {
      val utils = Class.forName("org.apache.spark.ui.UIUtils", true, tab.getClass.getClassLoader)
      val m = utils.getMethods
        .find(m => m.getName == "headerSparkPage" && m.getParameterCount >= 4 &&
          java.lang.reflect.Modifier.isStatic(m.getModifiers) && m.getParameterTypes()(0).isInstance(request))
        .getOrElse(throw new NoSuchMethodException("UIUtils.headerSparkPage"))
      val args: Seq[AnyRef] = m.getParameterTypes.toSeq.zipWithIndex.map {
        case (_, 0) => request
        case (_, 1) => title
        case (_, 2) => content
        case (_, 3) => tab
        case (t, i) =>
          scala.util
            .Try(utils.getMethod(s"headerSparkPage$$default$$${i + 1}").invoke(null))
            .getOrElse(if (t == classOf[Boolean]) java.lang.Boolean.FALSE else None)
      }
      m.invoke(null, args: _*).asInstanceOf[Seq[Node]]
    } catch {
      case e: Throwable if !e.isInstanceOf[VirtualMachineError] =>
        if (!chromeFailed) {
          chromeFailed = true
          log.warn(s"stopstreaming: the Spark UI tab is shown without Spark's page frame on this Spark ($e)")
        }
        <html><head><title>{title}</title></head><body><h3>{title}</h3>{content()}</body></html>
    }

  /** Serves `servlet` at `path` of the Spark UI. Spark's jar shades Jetty, while its Scala signatures name the unshaded
    * classes, so the handler's type cannot be named at compile time: both calls are made by reflection.
    */
  private[ui] def attachServlet(ui: SparkUI, path: String, servlet: AnyRef): Unit = {
    val jetty = Class.forName("org.apache.spark.ui.JettyUtils", true, ui.getClass.getClassLoader)
    val create = jetty.getMethods
      .find(m => m.getName == "createServletHandler" && m.getParameterCount == 3 &&
        m.getParameterTypes()(1).isInstance(servlet) && m.getParameterTypes()(2) == classOf[String])
      .getOrElse(throw new NoSuchMethodException("JettyUtils.createServletHandler(String, HttpServlet, String)"))
    val handler = create.invoke(null, path, servlet, "")
    val attach = ui.getClass.getMethods
      .find(m => m.getName == "attachHandler" && m.getParameterCount == 1 && m.getParameterTypes()(0).isInstance(handler))
      .getOrElse(throw new NoSuchMethodException("SparkUI.attachHandler(ServletContextHandler)"))
    attach.invoke(ui, handler)
  }

  def attach(sc: org.apache.spark.SparkContext, plane: ControlPlane, controlUrl: Option[String]): Boolean =
    try {
      sc.ui match {
        case Some(ui) =>
          StreamingControlTab.attach(new ControlTabContent(plane, controlUrl, ui))
          true
        case None => false
      }
    } catch {
      case e: Throwable if !e.isInstanceOf[VirtualMachineError] =>
        log.warn(s"stopstreaming: the Spark UI tab is skipped on this Spark (${e.getClass.getSimpleName}: ${e.getMessage})")
        false
    }
}
