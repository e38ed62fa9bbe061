package io.github.stopstreaming.observe

import scala.util.control.NonFatal

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.AuditRecord
import org.apache.spark.SparkContext
import org.apache.spark.stopstreaming.ListenerBusBridge
import org.slf4j.LoggerFactory

/** Where each audit record goes besides the in-memory list: one line of the driver log, and Spark's listener bus. */
object AuditSinks {
  private val log = LoggerFactory.getLogger("io.github.stopstreaming.audit")

  def driverLog(r: AuditRecord): Unit =
    if (log.isInfoEnabled) log.info(s"stopstreaming audit: ${Json.string(Json.auditRecord(r))}")

  def listenerBus(sc: SparkContext)(r: AuditRecord): Unit =
    try if (!sc.isStopped) ListenerBusBridge.post(sc, StopStreamingAuditEvent(r))
    catch { case NonFatal(e) => log.warn(s"could not post audit record ${r.seq} on the listener bus", e) }
}
