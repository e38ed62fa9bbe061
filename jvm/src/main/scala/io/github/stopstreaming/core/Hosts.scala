package io.github.stopstreaming.core

import scala.util.control.NonFatal

/** The one host-name lookup and the one loopback rule. */
object Hosts {

  /** This machine's name as other hosts know it, or `localhost` when it cannot be found. */
  lazy val localHostName: String =
    try java.net.InetAddress.getLocalHost.getHostName
    catch { case NonFatal(_) => "localhost" }

  /** Whether a host name or address only reaches this machine. */
  def isLoopback(host: String): Boolean = {
    val h = host.stripPrefix("[").stripSuffix("]").toLowerCase
    // An address, not a prefix: "127.0.0.1.evil.example" is somebody's DNS name.
    h == "localhost" || h.matches("""127\.\d{1,3}\.\d{1,3}\.\d{1,3}""") || h == "::1" || h == "0:0:0:0:0:0:0:1"
  }

  /** A URL that reaches a server bound to `bindHost` on `port` from this host. */
  def url(scheme: String, bindHost: String, port: Int): String = {
    val host = bindHost match {
      case "0.0.0.0" | "::" => localHostName
      case h => h
    }
    val shown = if (host.contains(":") && !host.startsWith("[")) s"[$host]" else host
    s"$scheme://$shown:$port"
  }
}
