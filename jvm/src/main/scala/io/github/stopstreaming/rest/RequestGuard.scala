package io.github.stopstreaming.rest

import java.util.Locale

import io.github.stopstreaming.core.{Hosts, SafeText}

/** Where a request may come from. "Loopback only" still lets every browser tab and every local user in, so:
  *   - a request that carries an `Origin` (a browser's, on any cross-origin call, even a CORS "simple request" that
  *     gets no preflight) is refused unless it is the server's own origin, or one the operator listed
  *     (`rest.allowedOrigins`, honoured only with a token);
  *   - without a token, a request whose `Host` is not a loopback name or the configured host is refused, which defeats
  *     DNS rebinding (a page whose own name now points at 127.0.0.1).
  *
  * curl, the Python client and the CLI send no `Origin` and a loopback or configured `Host`, so they pass unchanged.
  */
final class RequestGuard(tokenRequired: Boolean, configuredHost: String, allowedOrigins: Set[String], scheme: String) {
  private val allowed = allowedOrigins.map(RequestGuard.normalizeOrigin)
  private val configured = configuredHost.toLowerCase(Locale.ROOT)

  /** None when the request may go on; Some(why) when it must be refused. */
  def refusal(host: Option[String], origin: Option[String]): Option[String] = check(host, origin).map(_.message)

  /** None when the request may go on; otherwise why not, with its reason code. */
  def check(host: Option[String], origin: Option[String]): Option[Refusal] = {
    val hostName = host.map(RequestGuard.hostName)
    if (!tokenRequired && hostName.exists(h => !servedName(h)))
      Some(
        Refusal(
          Refusal.ForeignHost,
          s"Host '${SafeText.clean(host.get, 100)}' is not this server's name: without a token only loopback names " +
            "are served (set spark.stopstreaming.auth.token to serve other names)"
        )
      )
    else
      origin.flatMap { o =>
        val own = host.map(h => s"$scheme://${h.toLowerCase(Locale.ROOT)}")
        val normalized = RequestGuard.normalizeOrigin(o)
        if (own.contains(normalized)) None
        else if (tokenRequired && allowed.contains(normalized)) None
        else
          Some(
            Refusal(
              Refusal.ForeignOrigin,
              s"requests from the web origin '${SafeText.clean(o, 100)}' are refused" +
                (if (tokenRequired) "; list it in spark.stopstreaming.rest.allowedOrigins to allow it"
                 else " (without a token only the server's own page may call it)")
            )
          )
      }
  }

  /** Loopback names, the configured host, and IP literals (DNS rebinding needs a name) are served; a server bound to
    * every interface also answers to this machine's name.
    */
  private def servedName(h: String): Boolean =
    Hosts.isLoopback(h) || h == configured || RequestGuard.isIpLiteral(h) ||
      ((configured == "0.0.0.0" || configured == "::") && h == Hosts.localHostName.toLowerCase(Locale.ROOT))

  /** Whether CORS headers may be sent for this origin (only to origins the operator listed). */
  def corsAllowed(origin: String): Boolean = tokenRequired && allowed.contains(RequestGuard.normalizeOrigin(origin))
}

object RequestGuard {

  /** The host part of a `Host` header: `name`, `name:port`, `[v6]` or `[v6]:port`. */
  def hostName(host: String): String = {
    val h = host.trim.toLowerCase(Locale.ROOT)
    if (h.startsWith("[")) h.takeWhile(_ != ']') + "]"
    else if (h.count(_ == ':') == 1) h.takeWhile(_ != ':')
    else h
  }

  def isIpLiteral(h: String): Boolean =
    h.startsWith("[") || h.matches("""\d{1,3}(\.\d{1,3}){3}""")

  def normalizeOrigin(o: String): String = o.trim.toLowerCase(Locale.ROOT).stripSuffix("/")
}

/** Why a request was turned away before it reached the door: a stable code (also in the error body) and a message. */
final case class Refusal(code: String, message: String)

object Refusal {
  val Unauthorized = "unauthorized"
  val ForeignOrigin = "forbidden-origin"
  val ForeignHost = "forbidden-host"
}
