package io.github.stopstreaming.runtime

import scala.util.control.NonFatal

import io.github.stopstreaming.core.Settings
import io.github.stopstreaming.rest.PortReservations
import org.apache.spark.SparkConf

/** The 0.x API's first call names a port and a client posts to it moments later. When no control plane runs yet, this
  * binds that port before the control plane starts (which takes a while on a loaded machine); the server started later
  * takes the bound port over and answers what waited in its backlog.
  *
  * It runs once, cold, on the caller's thread, so it is kept apart from [[StopStreamingRuntime]] (a large class whose
  * loading and verification alone took a third of the time to the bind) and written without closures (each first use of
  * one makes a class at run time).
  */
object EarlyBind {

  /** Binds `port` unless a control plane runs already; returns the reserved port, to [[release]] once attached. None
    * when there is nothing to reserve (a plane runs, port 0, TLS may be on, or the bind failed, which the normal path
    * then reports).
    */
  def reserve(conf: SparkConf, requestedHost: String, port: Int, defaultHost: String): Option[Int] =
    if (port <= 0 || CurrentRuntime.instance.get != null) None
    else
      try {
        // Not the whole settings (their first parse costs more than the bind): whether a token is set (it decides the
        // host) and whether TLS may be on (then the normal path binds, a little later). The keys are constants of
        // Settings, compiled into this code: reading them loads no declaration.
        val token = isSet(conf.get(Settings.Prefix + Settings.AuthTokenKey, null)) ||
          isSet(conf.get(Settings.Prefix + Settings.AuthTokenFileKey, null)) || isSet(System.getenv(Settings.TokenEnv))
        val tls = isSet(conf.get(Settings.Prefix + Settings.SslKeyStoreKey, null)) ||
          conf.getAllWithPrefix("spark.ssl.").length > 0
        val host = if (requestedHost == defaultHost && !token) "127.0.0.1" else requestedHost
        if (!tls && PortReservations.reserve(host, port, https = false)) Some(port) else None
      } catch { case NonFatal(_) => None }

  /** Closes a reservation that no server took over (the control plane failed to start, say). */
  def release(port: Int): Unit = PortReservations.release(port)

  private def isSet(value: String): Boolean = value != null && !value.trim.isEmpty
}
