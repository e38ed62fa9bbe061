package io.github.stopstreaming.rest

import java.net.InetSocketAddress
import java.util.concurrent.ConcurrentHashMap

import scala.util.control.NonFatal

import com.sun.net.httpserver.{HttpServer, HttpsServer}

/** Ports bound ahead of their control server. A 0.x-API caller names a port and posts to it moments later; binding it
  * first (a few milliseconds) lets the kernel accept those connections while the rest of the control plane starts, and
  * the server that then takes the port over answers them. A reserved server is bound, not started.
  */
private[stopstreaming] object PortReservations {
  private val byPort = new ConcurrentHashMap[Integer, HttpServer]()

  /** Binds `host:port` now unless it is reserved already; returns whether this call bound it. */
  def reserve(host: String, port: Int, https: Boolean): Boolean = {
    if (port <= 0 || byPort.containsKey(port)) return false
    ControlServer.applyConnectionLimits()
    val s = create(new InetSocketAddress(host, port), https)
    if (byPort.putIfAbsent(port, s) == null) true else { close(s); false }
  }

  /** The server reserved on this address, handed over once; one reserved on another host is closed, not used. */
  private[rest] def take(address: InetSocketAddress, https: Boolean): Option[HttpServer] =
    Option(byPort.remove(address.getPort)).flatMap { s =>
      val same = s.getAddress.getAddress == address.getAddress && s.isInstanceOf[HttpsServer] == https
      if (same) Some(s) else { close(s); None }
    }

  /** Closes the reservation of `port` if no server took it over. */
  def release(port: Int): Unit = Option(byPort.remove(port)).foreach(close)

  /** Closes a bound server that was never started. `stop` alone is not enough: the JDK closes a listening channel
    * registered with a selector only when that selector next runs, which is the dispatcher's, and an unstarted server
    * has none running; the port would stay bound, taking connections that are never answered. Started first, its
    * dispatcher runs once and closes it; connections waiting in its backlog are reset.
    */
  private def close(s: HttpServer): Unit =
    try {
      // From a daemon thread, as every start (see ControlServer.startAsDaemon); stop joins the dispatcher.
      try ControlServer.startAsDaemon(s)
      catch { case _: IllegalStateException => () } // started already
      s.stop(0)
    } catch { case NonFatal(_) => () } // a failed close must not hide the error that led to it

  private[rest] def create(address: InetSocketAddress, https: Boolean): HttpServer =
    if (https) HttpsServer.create(address, ControlServer.Backlog) else HttpServer.create(address, ControlServer.Backlog)
}
