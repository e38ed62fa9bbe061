package io.github.stopstreaming.rest

import java.util.{LinkedHashMap => JLinkedHashMap}

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import io.github.stopstreaming.control.{ProgressView, QueryView, StatusView, StopState}
import io.github.stopstreaming.dynconf.{ConfEntry, ConfSnapshot}

/** JSON bodies of the HTTP API, written with the Jackson that Spark already ships. */
object Json {
  private val mapper = new ObjectMapper()

  def bytes(value: AnyRef): Array[Byte] = mapper.writeValueAsBytes(value)

  /** An ordered JSON object; `None` becomes null. */
  def obj(fields: (String, Any)*): JLinkedHashMap[String, Any] = {
    val m = new JLinkedHashMap[String, Any]()
    fields.foreach { case (k, v) => m.put(k, plain(v)) }
    m
  }

  private def plain(v: Any): Any = v match {
    case None => null
    case Some(x) => plain(x)
    case s: Seq[_] => s.map(plain).asJava
    case other => other
  }

  def error(message: String): JLinkedHashMap[String, Any] = obj("error" -> message)

  def query(q: QueryView): JLinkedHashMap[String, Any] = obj(
    "id" -> q.id.toString,
    "runId" -> q.runId.toString,
    "name" -> q.name,
    "active" -> q.active,
    "status" -> q.status.map(status),
    "lastProgress" -> q.lastProgress.map(progress),
    "stop" -> q.stop.map(stop),
    "exception" -> q.exception,
    "startedAt" -> q.startedAt.toString
  )

  def status(s: StatusView): JLinkedHashMap[String, Any] =
    obj("message" -> s.message, "isDataAvailable" -> s.isDataAvailable, "isTriggerActive" -> s.isTriggerActive)

  def progress(p: ProgressView): JLinkedHashMap[String, Any] = obj(
    "batchId" -> p.batchId,
    "timestamp" -> p.timestamp,
    "numInputRows" -> p.numInputRows,
    "inputRowsPerSecond" -> finite(p.inputRowsPerSecond),
    "processedRowsPerSecond" -> finite(p.processedRowsPerSecond)
  )

  // JSON has no NaN or infinity; Spark reports NaN rates for empty batches.
  private def finite(d: Double): Any = if (d.isNaN || d.isInfinite) null else d

  def confEntry(key: String, e: ConfEntry): JLinkedHashMap[String, Any] =
    obj("key" -> key, "value" -> e.value, "version" -> e.version, "updatedAt" -> e.updatedAt.toString)

  def conf(s: ConfSnapshot): JLinkedHashMap[String, Any] = {
    val entries = new java.util.TreeMap[String, Any]()
    s.entries.foreach { case (k, e) =>
      entries.put(k, obj("value" -> e.value, "version" -> e.version, "updatedAt" -> e.updatedAt.toString))
    }
    obj("version" -> s.version, "entries" -> entries)
  }

  def stop(s: StopState): JLinkedHashMap[String, Any] = obj(
    "state" -> s.phase.name,
    "mode" -> s.mode.name,
    "source" -> s.source.name,
    "timeoutMs" -> s.timeoutMs,
    "requestedAt" -> s.requestedAt.toString,
    "completedAt" -> s.completedAt.map(_.toString),
    "detail" -> s.detail
  )
}
