package io.github.stopstreaming.rest

import java.net.InetSocketAddress
import java.util.concurrent.{ConcurrentHashMap, LinkedBlockingQueue, SynchronousQueue, ThreadPoolExecutor, TimeUnit}
import javax.net.ssl.SSLContext

import scala.jdk.CollectionConverters._

import com.sun.net.httpserver.{HttpServer, HttpsServer}
import io.github.stopstreaming.core.{ControlPlane, StopPaths}
import org.slf4j.LoggerFactory

/** One JDK `HttpServer` (or `HttpsServer`) on one port, serving the whole control API. */
final class ControlServer(
    val host: String,
    requestedPort: Int,
    plane: ControlPlane,
    tls: Option[SSLContext],
    json: QueryJsonCache,
    stats: HttpStats,
    checkpoints: CheckpointReports
) {
  private val log = LoggerFactory.getLogger(getClass)

  /** The JDK server reads a request's line and headers on this executor, so a client that sends them slowly holds a
    * thread until `maxReqTime` (a body it never finishes holds none: see [[Router]]). Hence many cheap threads rather
    * than a queue: up to [[ControlServer.MaxThreads]], made on demand with small stacks, each dying after 30 s idle. A
    * connection that finds them all busy is closed at once (the JDK server does that when the executor refuses), so the
    * threads, and the memory each may buffer (a head of at most `maxReqHeaderSize`), stay bounded.
    */
  private val executor = {
    val p = new ThreadPoolExecutor(
      ControlServer.CoreThreads,
      ControlServer.MaxThreads,
      30,
      TimeUnit.SECONDS,
      new SynchronousQueue[Runnable](),
      plane.threads.factory("http", ControlServer.ThreadStackBytes)
    )
    p.allowCoreThreadTimeOut(true)
    p
  }

  /** Sends the answers of stops that waited (`wait=`), apart from the request pool, so a pool full of a stranger's
    * connections cannot refuse an operator's answer. Only authenticated requests wait, so its queue stays short.
    */
  private val answers = {
    val p = new ThreadPoolExecutor(
      2,
      2,
      30,
      TimeUnit.SECONDS,
      new LinkedBlockingQueue[Runnable](),
      plane.threads.factory("http-answer")
    )
    p.allowCoreThreadTimeOut(true)
    p
  }

  /** Stop paths of the 0.x API (`/stop`) served here, each with the number of users that asked for it. */
  private val stopPaths = new ConcurrentHashMap[String, Integer]()

  private val server: HttpServer = {
    val address = new InetSocketAddress(host, requestedPort)
    // A port bound ahead (see PortReservations) is taken over with the connections already waiting on it.
    val s = PortReservations.take(address, tls.isDefined).getOrElse(PortReservations.create(address, tls.isDefined))
    tls.foreach(ctx => s.asInstanceOf[HttpsServer].setHttpsConfigurator(Tls.configurator(ctx)))
    val settings = plane.settings
    val guard =
      new RequestGuard(
        settings.token.isDefined,
        host,
        settings.allowedOrigins.toSet,
        if (tls.isDefined) "https" else "http"
      )
    s.createContext("/", new Router(plane, this, guard, answers, json, stats, checkpoints))
    s.setExecutor(executor)
    ControlServer.startAsDaemon(s)
    s
  }

  val port: Int = server.getAddress.getPort

  def addStopPath(p: String): Unit = stopPaths.merge(p, 1, (a, b) => a + b)

  /** Returns true when no user of this server is left. */
  def removeStopPath(p: String): Boolean = {
    stopPaths.computeIfPresent(p, (_, n) => if (n <= 1) null else n - 1)
    stopPaths.isEmpty
  }

  def servesStopPath(segments: Seq[String]): Boolean =
    stopPaths.keySet.asScala.exists(p => StopPaths.segments(p) == segments)

  def close(): Unit = {
    // Lets answers in flight go out (a stop with wait= often ends just as the app shuts down),
    // but no longer than a couple of seconds; with nothing in flight it returns at once.
    server.stop(ControlServer.CloseGraceSeconds)
    executor.shutdownNow()
    answers.shutdownNow()
    log.info(s"stopstreaming control server on port $port closed")
  }
}

object ControlServer {
  val CoreThreads = 4
  val MaxThreads = 512
  val ThreadStackBytes: Long = 256 * 1024
  val Backlog = 128
  val MaxBodyBytes: Int = 64 * 1024
  val CloseGraceSeconds = 2

  /** The JDK server's dispatcher thread inherits daemon status from the thread that starts it. Started from a user
    * thread it would keep the driver JVM alive after the application's main returned, so it is always started from a
    * daemon thread.
    */
  private[rest] def startAsDaemon(server: HttpServer): Unit = {
    var failure: Throwable = null
    val t = new Thread(
      () =>
        try server.start()
        catch { case e: Throwable => failure = e },
      "stopstreaming-http-start"
    )
    t.setDaemon(true)
    t.start()
    t.join()
    if (failure != null) throw failure
  }

  /** The JDK server reads its connection limits from system properties once, when its first instance is made. Without
    * them a client that sends its headers byte by byte holds a handler thread for ever; with them it is cut off after
    * maxReqTime seconds. A value the user set is kept.
    */
  private[rest] def applyConnectionLimits(): Unit = {
    val it = Limits.iterator // no closure: this runs on the early bind's cold path (see StopStreamingRuntime)
    while (it.hasNext) {
      val (k, v) = it.next()
      if (System.getProperty(k) == null) System.setProperty(k, v)
    }
  }

  /** What the JDK server is told, unless the user set it.
    *   - `maxReqTime`: a request's line and headers must arrive within 10 s, or the connection is closed (and the
    *     thread reading them freed); a connection that sends nothing is closed then too.
    *   - `maxReqHeaderSize`: 16 KiB of request line and headers at most (the JDK's own limit is 380 KiB); a larger head
    *     is refused before it reaches the router.
    *   - `maxConnections`: open connections at most, so a flood cannot use up the driver's file descriptors.
    *   - `drainAmount`: 0, so a request answered before its body was read (a refusal) has its connection closed instead
    *     of waiting for a body that may never come.
    *   - `maxRspTime` covers a stop's `wait=` (up to 10 minutes), whose answer comes when the stop ends.
    *   - `nodelay` turns Nagle's algorithm off: the JDK server writes a response's headers and body in two segments,
    *     and with Nagle on a client's delayed ACK holds the second one for about 40 ms.
    */
  val Limits: Seq[(String, String)] = Seq(
    "sun.net.httpserver.maxReqTime" -> "10",
    "sun.net.httpserver.maxRspTime" -> "660",
    "sun.net.httpserver.idleInterval" -> "30",
    "sun.net.httpserver.maxReqHeaders" -> "100",
    "sun.net.httpserver.maxReqHeaderSize" -> "16384",
    "jdk.httpserver.maxConnections" -> "1024",
    "sun.net.httpserver.drainAmount" -> "0",
    "sun.net.httpserver.nodelay" -> "true"
  )
}
