package io.github.stopstreaming.rest

import java.util.concurrent.ConcurrentHashMap
import javax.net.ssl.SSLContext

import scala.jdk.CollectionConverters._

import io.github.stopstreaming.core.{CheckpointException, CheckpointReport, ControlPlane}

/** The servers of the control plane: one per distinct port, shared by all users of that port, closed when its last user
  * is gone. The plugin's own server is one user for its whole life.
  */
final class ControlServers(
    plane: ControlPlane,
    tls: Option[SSLContext],
    readCheckpoint: String => CheckpointReport = _ =>
      throw new CheckpointException("this control server has no checkpoint reader")
) {
  private val byPort = new ConcurrentHashMap[Integer, ControlServer]()
  private val json = new QueryJsonCache
  private val checkpoints = new CheckpointReports(readCheckpoint, plane.threads)

  /** What every server of this control plane answered, for the metrics. */
  val stats = new HttpStats

  /** Starts (or joins) the server on `port` and serves `stopPath` there; returns the bound port. */
  def acquire(host: String, port: Int, stopPath: String): Int = synchronized {
    ControlServer.applyConnectionLimits()
    val server = Option(if (port == 0) null else byPort.get(port)).getOrElse {
      val s = new ControlServer(host, port, plane, tls, json, stats, checkpoints)
      byPort.put(s.port, s)
      s
    }
    server.addStopPath(stopPath)
    server.port
  }

  /** One user of `port` is done with it; the server closes with its last user. */
  def release(port: Int, stopPath: String): Unit = synchronized {
    Option(byPort.get(port)).foreach { s =>
      if (s.removeStopPath(stopPath)) {
        byPort.remove(port)
        s.close()
      }
    }
  }

  def closeAll(): Unit = synchronized {
    byPort.values.asScala.foreach(_.close())
    byPort.clear()
    checkpoints.close()
  }
}
