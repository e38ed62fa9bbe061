package org.apache.spark.stopstreaming.ui

import java.util.Locale

import scala.xml.Node

import io.github.stopstreaming.core._
import org.apache.spark.ui.SparkUI

/** A stop asked from the tab, as the servlet received it. */
private[spark] final case class TabStopRequest(
    user: String,
    id: Option[String],
    mode: Option[String],
    token: Option[String],
    origin: Option[String],
    host: Option[String],
    address: Option[String]
)

private[spark] object TabStopRequest {

  /** Reads a stop from a servlet request, given its parameter and header lookups (javax or jakarta alike). The token
    * comes from the form's field or the `Authorization` header, never from the URL, where tokens end up in logs.
    */
  def from(
      user: String,
      param: String => Option[String],
      header: String => Option[String],
      query: Option[String],
      address: Option[String]
  ): TabStopRequest =
    TabStopRequest(
      user,
      param("stop").map(_.split(" ", 2)).collect { case Array(_, id) => id }.orElse(param("id")),
      param("stop").map(_.split(" ", 2)(0)).orElse(param("mode")),
      param("token")
        .filter(_ => !query.exists(_.contains("token")))
        .orElse(Secrets.bearerToken(header("Authorization"))),
      header("Origin"),
      header("Host"),
      address
    )
}

/** What the Streaming Control tab of the Spark UI shows and does, free of servlet types (javax on Spark 3.5, jakarta on
  * 4; the thin tab classes of each line are in `scala-spark3/` and `scala-spark4/`). The Spark UI listens on every
  * interface, so a stop from the tab passes every gate of the control server and Spark's own:
  *   - `Host` must be a name the UI is served under ([[servedHosts]]), which defeats DNS rebinding;
  *   - `Origin`, when sent, must be that same host (no cross-site form posts);
  *   - Spark's rules for killing jobs: `spark.ui.killEnabled`, and modify permission when ACLs are on;
  *   - with a token configured, the request must carry it (the tab's token field, or `Authorization: Bearer`).
  * Every stop goes through the control plane's door; every refusal is recorded (sampled) there too.
  */
private[spark] final class ControlTabContent(
    val plane: ControlPlane,
    val controlUrl: Option[String],
    val ui: SparkUI,
    servedHosts: Set[String]
) {
  private val token = plane.settings.token

  // The outcomes of the latest stops, by a random id the redirect after a stop carries back to the tab.
  private val outcomes = new java.util.LinkedHashMap[String, String]() {
    override def removeEldestEntry(e: java.util.Map.Entry[String, String]): Boolean = size > 32
  }

  /** Keeps a stop's outcome to show once the browser comes back; returns its id. */
  def remember(outcome: String): String = outcomes.synchronized {
    val id = java.util.UUID.randomUUID().toString
    outcomes.put(id, outcome)
    id
  }

  def recall(id: String): Option[String] = outcomes.synchronized(Option(outcomes.get(id)))

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
      controlUrl.toSeq.map(u => <span>The full control page (stop progress, dynamic configuration, audit trail):
          <a href={u + "/"} target="_blank" rel="noopener noreferrer">{u + "/"}</a>.</span>)
    }
      </p>
      {message.toSeq.map(m => <div class="alert alert-info" role="status">{m}</div>)}
      {whyNoStop(user).toSeq.map(w => <p><em>Stop buttons are off: {w}.</em></p>)}
      <!-- One form: the token field goes with whichever stop button is pressed, with no script (Spark 4.3's UI
           allows no inline script), each button naming its query and mode. -->
      <form method="post" action={stopAction}>
      {
      if (token.isEmpty || !stoppable) Seq.empty[Node]
      else
        <p>
          <label for="stopstreaming-token">Token (spark.stopstreaming.auth.token), needed to stop a query:</label>
          <input type="password" id="stopstreaming-token" name="token" autocomplete="off" size="40"/>
        </p>
    }
      <table class="table table-bordered table-sm table-striped" id="stopstreaming-queries">
        <thead>
          <tr><th>Name</th><th>Id</th><th>Active</th><th>Status</th><th>Last batch</th><th>Stop</th><th></th></tr>
        </thead>
        <tbody>{views.map(v => row(v, stoppable))}</tbody>
      </table>
      {managedTable(stoppable)}
      </form>
    </div>
  }

  /** The managed queries, with Pause, Resume and Restart where their state allows it (and stops are allowed). */
  private def managedTable(stoppable: Boolean): Seq[Node] = {
    val managed = plane.managed.views
    if (managed.isEmpty) Seq.empty[Node]
    else
      <h4>Managed queries</h4>
      <table class="table table-bordered table-sm table-striped" id="stopstreaming-managed">
        <thead><tr><th>Name</th><th>State</th><th>Runs</th><th>Failures</th><th>Detail</th><th></th></tr></thead>
        <tbody>{
        managed.map { v =>
          val detail = v.nextAttemptAt.map(a => s"next attempt at $a").orElse(v.lastError).getOrElse("-")
          val verbs = v.state match {
            case ManagedState.Running => Seq("pause", "restart")
            case ManagedState.Paused | ManagedState.Backoff => Seq("resume", "restart")
            case ManagedState.Pausing => Seq("resume")
            case _ => Nil
          }
          <tr>
            <td>{v.name}</td><td>{v.state.name}</td><td>{v.runs.toString}</td><td>{v.failures.toString}</td>
            <td>{detail.linesIterator.take(1).mkString}</td>
            <td>{
            if (!stoppable) Seq.empty[Node]
            else
              verbs.map { verb =>
                val label = verb.capitalize
                <button type="submit" name="stop" value={s"$verb ${v.name}"} class="btn btn-sm btn-outline-secondary"
                        onclick={s"return window.confirm(${jsString(s"$label '${v.name}'?")});"}>{label}</button>
              }
          }</td>
          </tr>
        }
      }</tbody>
      </table>
  }

  private def row(v: QueryView, stoppable: Boolean): Node = {
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
          <button type="submit" name="stop" value={s"$mode ${v.id}"} class="btn btn-sm btn-outline-danger"
                  onclick={s"return window.confirm(${jsString(ask)});"}>{label}</button>
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

  /** A pause, resume or restart of a managed query, asked from the tab once every gate of a stop was passed. */
  private def lifecycle(verb: String, name: String, who: Caller): Either[(Int, String), String] = {
    val m = plane.managed
    val outcome = verb match {
      case "pause" => m.pause(name, StopCondition.Now, None, StopSource.SparkUi, who)
      case "resume" => m.resume(name, StopSource.SparkUi, who)
      case _ => m.restart(name, StopCondition.Now, None, StopSource.SparkUi, who)
    }
    outcome match {
      case ManagedOutcome.Accepted(v, _) => Right(s"$verb of ${v.name}: ${v.state}")
      case ManagedOutcome.Conflict(_, why) => Left(409 -> why)
      case ManagedOutcome.NotFound => Left(404 -> s"no managed query named '${SafeText.name(name)}'")
    }
  }

  /** A stop asked from the tab: Left(status code, why) when refused, Right(what happened) otherwise. */
  def stop(r: TabStopRequest): Either[(Int, String), String] = {
    val caller = Caller(r.address, authenticated = false)
    def refuse(status: Int, code: String, why: String): Either[(Int, String), String] = {
      plane.refusedStop(r.id.getOrElse("?"), StopSource.SparkUi, caller, code, why)
      Left(status -> why)
    }
    val hostName = r.host.map(ControlTab.hostName)
    if (hostName.exists(h => !ControlTab.served(h, servedHosts)))
      refuse(
        403,
        "forbidden-host",
        s"Host '${SafeText.clean(r.host.get, 100)}' is not a name this Spark UI is served under " +
          "(list it in spark.stopstreaming.ui.allowedHosts)"
      )
    else if (r.origin.exists(o => !r.host.exists(h => ControlTab.sameHost(o, h))))
      refuse(403, "forbidden-origin", "stops from another web origin are refused")
    else
      whyNoStop(r.user) match {
        case Some(why) => refuse(403, if (ui.killEnabled) "no-permission" else "ui-stop-disabled", why)
        case None if token.exists(t => !r.token.filter(_.nonEmpty).exists(Secrets.sameToken(t, _))) =>
          refuse(
            401,
            "unauthorized",
            if (r.token.forall(_.isEmpty)) "a token is configured: enter it in the tab's token field"
            else "the token was refused"
          )
        case None if r.mode.exists(ControlTab.LifecycleVerbs.contains) =>
          lifecycle(r.mode.get, r.id.filter(_.nonEmpty).getOrElse(""), caller.copy(authenticated = token.isDefined))
        case None =>
          val request = StopRequest.parse(r.mode, None).left.map(m => (400, m))
          request.flatMap { req =>
            val target = r.id.filter(_.nonEmpty).getOrElse("")
            val who = caller.copy(authenticated = token.isDefined)
            plane.requestStop(target, req, StopSource.SparkUi, who) match {
              case StopOutcome.Accepted(t, s) => Right(s"stop of ${t.name.getOrElse(t.id.toString)}: ${s.phase}")
              case StopOutcome.Pending(t, _) => Right(s"stop of ${t.id} is pending")
              case StopOutcome.AlreadyEnded(e) => Right(s"${e.name.getOrElse(e.id.toString)} had already ended")
              case StopOutcome.NotFound => Left(404 -> s"no query with id '${SafeText.name(target)}'")
              case StopOutcome.Ambiguous(_) => Left(409 -> s"'${SafeText.name(target)}' names several queries")
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

  /** The lifecycle verbs the tab's buttons send for managed queries (the others are stop modes). */
  val LifecycleVerbs: Set[String] = Set("pause", "resume", "restart")

  /** The tab's page inside Spark's own page chrome (`UIUtils.headerSparkPage`). Its parameter list grows between
    * releases (Spark 4.2 added one), so it is called by reflection, every parameter after the tab taking Spark's own
    * default. Where that fails the content is served bare, with one log line: the tab never answers 500.
    */
  private[ui] def page(request: AnyRef, title: String, content: () => Seq[Node], tab: AnyRef): Seq[Node] =
    try {
      val utils = Class.forName("org.apache.spark.ui.UIUtils", true, tab.getClass.getClassLoader)
      val m = utils.getMethods
        .find(m =>
          m.getName == "headerSparkPage" && m.getParameterCount >= 4 &&
            java.lang.reflect.Modifier.isStatic(m.getModifiers) && m.getParameterTypes()(0).isInstance(request)
        )
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
      .find(m =>
        m.getName == "createServletHandler" && m.getParameterCount == 3 &&
          m.getParameterTypes()(1).isInstance(servlet) && m.getParameterTypes()(2) == classOf[String]
      )
      .getOrElse(throw new NoSuchMethodException("JettyUtils.createServletHandler(String, HttpServlet, String)"))
    val handler = create.invoke(null, path, servlet, "")
    val attach = ui.getClass.getMethods
      .find(m =>
        m.getName == "attachHandler" && m.getParameterCount == 1 && m.getParameterTypes()(0).isInstance(handler)
      )
      .getOrElse(throw new NoSuchMethodException("SparkUI.attachHandler(ServletContextHandler)"))
    attach.invoke(ui, handler)
  }

  /** The host part of a `Host` header or an origin's authority: `name`, `name:port`, `[v6]` or `[v6]:port`. */
  private[ui] def hostName(host: String): String = {
    val h = host.trim.toLowerCase(Locale.ROOT)
    if (h.startsWith("[")) h.takeWhile(_ != ']') + "]"
    else if (h.count(_ == ':') == 1) h.takeWhile(_ != ':')
    else h
  }

  /** Whether an `Origin` names the same host and port as the request's `Host`. */
  private[ui] def sameHost(origin: String, host: String): Boolean =
    origin.trim.toLowerCase(Locale.ROOT).replaceFirst("^https?://", "").stripSuffix("/") ==
      host.trim.toLowerCase(Locale.ROOT)

  /** Loopback names, IP literals (DNS rebinding needs a name) and the names listed are served. */
  private[ui] def served(h: String, names: Set[String]): Boolean =
    Hosts.isLoopback(h) || h.startsWith("[") || h.matches("""\d{1,3}(\.\d{1,3}){3}""") || names.contains(h)

  /** The names this driver's UI is known under: this machine's name, `spark.driver.host`, `SPARK_PUBLIC_DNS`, the
    * reverse proxy's host (`spark.ui.reverseProxyUrl`) and those the operator listed (`ui.allowedHosts`).
    */
  private[ui] def servedHosts(sc: org.apache.spark.SparkContext, listed: Seq[String]): Set[String] = {
    val proxy = sc.conf
      .getOption("spark.ui.reverseProxyUrl")
      .flatMap(u => scala.util.Try(new java.net.URI(u).getHost).toOption)
      .flatMap(Option(_))
    (Seq(Hosts.localHostName) ++ sc.conf.getOption("spark.driver.host") ++ sys.env.get("SPARK_PUBLIC_DNS") ++ proxy ++
      listed).map(_.trim.toLowerCase(Locale.ROOT)).filter(_.nonEmpty).toSet
  }

  def attach(sc: org.apache.spark.SparkContext, plane: ControlPlane, controlUrl: Option[String]): Boolean =
    try {
      sc.ui match {
        case Some(ui) =>
          val hosts = servedHosts(sc, plane.settings.uiAllowedHosts)
          StreamingControlTab.attach(new ControlTabContent(plane, controlUrl, ui, hosts))
          true
        case None => false
      }
    } catch {
      case e: Throwable if !e.isInstanceOf[VirtualMachineError] =>
        log.warn(
          s"stopstreaming: the Spark UI tab is skipped on this Spark (${e.getClass.getSimpleName}: ${e.getMessage})"
        )
        false
    }
}
