package io.github.stopstreaming.codec

import java.nio.charset.StandardCharsets.UTF_8
import java.time.Instant
import java.util.{LinkedHashMap => JLinkedHashMap}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.core.JsonParser
import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}
import io.github.stopstreaming.core._

/** The one JSON codec of stopstreaming, written with the Jackson that Spark already ships: the shapes of queries, stops
  * and the dynamic configuration, used alike by the HTTP API, the stop files, the persistence file and the Python
  * facade.
  */
object Json {
  private val mapper = new ObjectMapper()

  /** Reads requests and files: a key given twice is an error, as it is in an HTTP query string, never "the last wins".
    */
  private val strictReader = mapper.reader().`with`(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)

  /** Reads one JSON value, and nothing after it (as Python's `json.loads` does). */
  private val treeReader =
    mapper.reader().`with`(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)

  def bytes(value: AnyRef): Array[Byte] = mapper.writeValueAsBytes(value)

  def string(value: AnyRef): String = new String(bytes(value), UTF_8)

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

  /** Parses a JSON object whose values are all scalars, as text. Left says what is wrong. */
  def readFlatObject(text: String): Either[String, Map[String, String]] =
    try {
      val node = strictReader.readTree(text)
      if (node == null || !node.isObject) Left("content must be a JSON object")
      else {
        val fields = node.properties().asScala.map(e => e.getKey -> e.getValue).toSeq
        fields.collectFirst { case (k, v) if !v.isValueNode || v.isNull => k } match {
          case Some(k) => Left(s"field '$k' must be a string or a number")
          case None => Right(fields.map { case (k, v) => k -> v.asText() }.toMap)
        }
      }
    } catch {
      case e: com.fasterxml.jackson.core.JsonParseException if e.getOriginalMessage.startsWith("Duplicate field") =>
        Left(s"content gives a field more than once (${SafeText.name(e.getOriginalMessage)})")
      case NonFatal(e) => Left(s"content is not valid JSON (${e.getClass.getSimpleName})")
    }

  def error(message: String): JLinkedHashMap[String, Any] = obj("error" -> message)

  def query(q: QueryView): JLinkedHashMap[String, Any] = obj(
    "id" -> q.id.toString,
    "runId" -> q.runId.toString,
    "name" -> q.name,
    "active" -> q.active,
    "status" -> q.status.map(status),
    "lastProgress" -> q.lastProgress.map(progress),
    "stop" -> q.shownStop.map(s => withWhen(stop(s), q.pending.filter(_ => q.stop.isEmpty))),
    "exception" -> q.exception,
    "startedAt" -> q.startedAt.toString,
    "lifecycle" -> q.lifecycle
  )

  /** A managed query: its state in its life, across runs. */
  def managed(v: ManagedView): JLinkedHashMap[String, Any] = obj(
    "name" -> v.name,
    "state" -> v.state.name,
    "since" -> v.since.toString,
    "nextAttemptAt" -> v.nextAttemptAt.map(_.toString),
    "queryId" -> v.queryId.map(_.toString),
    "runId" -> v.runId.map(_.toString),
    "runs" -> v.runs,
    "restarts" -> v.restarts,
    "failures" -> v.failures,
    "lastError" -> v.lastError,
    "pausedMs" -> v.pausedMs,
    "pausePersisted" -> v.persistedPause,
    "policy" -> obj(
      "initialDelayMs" -> v.policy.initialDelayMs,
      "factor" -> v.policy.factor,
      "maxDelayMs" -> v.policy.maxDelayMs,
      "maxRestarts" -> v.policy.maxRestarts,
      "windowMs" -> v.policy.windowMs
    )
  )

  /** The short form that tells apart the queries of one name (the answer to an ambiguous name). */
  def queryRef(q: QueryView): JLinkedHashMap[String, Any] =
    obj("id" -> q.id.toString, "runId" -> q.runId.toString, "name" -> q.name, "session" -> q.session)

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

  def stop(s: StopState): JLinkedHashMap[String, Any] = obj(
    "state" -> s.phase.name,
    "mode" -> s.mode.name,
    "source" -> s.source.name,
    "timeoutMs" -> s.timeoutMs,
    "requestedAt" -> s.requestedAt.toString,
    "completedAt" -> s.completedAt.map(_.toString),
    "detail" -> s.detail,
    "code" -> s.code
  )

  private def withWhen(m: JLinkedHashMap[String, Any], p: Option[PendingStop]): JLinkedHashMap[String, Any] = {
    p.foreach(p => m.put("when", p.condition.text))
    m
  }

  def confEntry(key: String, e: ConfEntry): JLinkedHashMap[String, Any] =
    obj("key" -> key, "value" -> e.value, "version" -> e.version, "updatedAt" -> e.updatedAt.toString)

  /** `{"version": N, "entries": {key: {value, version, updatedAt}}}`: the API's shape and the persistence file's. */
  def conf(s: ConfSnapshot): JLinkedHashMap[String, Any] = {
    val entries = new java.util.TreeMap[String, Any]()
    s.entries.foreach { case (k, e) =>
      entries.put(k, obj("value" -> e.value, "version" -> e.version, "updatedAt" -> e.updatedAt.toString))
    }
    obj("version" -> s.version, "entries" -> entries)
  }

  /** Reads what [[conf]] wrote; throws on anything else. */
  def readConf(text: String): ConfSnapshot = {
    val root = mapper.readTree(text)
    require(root != null && root.isObject, "not a JSON object")
    def field(n: JsonNode, name: String): JsonNode =
      Option(n.get(name)).getOrElse(throw new IllegalArgumentException(s"missing field '$name'"))
    val entries = field(root, "entries")
      .properties()
      .asScala
      .map { e =>
        val n = e.getValue
        val key = e.getKey
        val value = field(n, "value").asText()
        DynamicConfStore.checkEntry(key, value).left.foreach(r => throw new IllegalArgumentException(r.message))
        key -> ConfEntry(value, field(n, "version").asLong(), Instant.parse(field(n, "updatedAt").asText()))
      }
      .toMap
    ConfSnapshot(field(root, "version").asLong(), entries)
  }

  /** An audit record: the one field list of `GET /api/v1/events`, the driver log's audit lines and the event log. */
  def auditRecord(r: AuditRecord): JLinkedHashMap[String, Any] = obj(
    "seq" -> r.seq,
    "time" -> r.time.toString,
    "kind" -> r.kind,
    "queryId" -> r.queryId,
    "queryName" -> r.queryName,
    "source" -> r.source,
    "mode" -> r.mode,
    "options" -> new java.util.TreeMap[String, String](r.options.asJava),
    "client" -> r.client,
    "authenticated" -> r.authenticated,
    "outcome" -> r.outcome,
    "durationMs" -> r.durationMs
  )

  /** Reads what [[auditRecord]] wrote (a line of Spark's event log, say); throws on anything else. */
  def readAuditRecord(n: JsonNode): AuditRecord = {
    def opt(name: String): Option[JsonNode] = Option(n.get(name)).filterNot(_.isNull)
    def field(name: String): JsonNode =
      opt(name).getOrElse(throw new IllegalArgumentException(s"missing field '$name'"))
    AuditRecord(
      seq = field("seq").asLong,
      time = Instant.parse(field("time").asText),
      kind = field("kind").asText,
      queryId = opt("queryId").map(_.asText),
      queryName = opt("queryName").map(_.asText),
      source = field("source").asText,
      mode = opt("mode").map(_.asText),
      options = opt("options").toSeq.flatMap(_.properties().asScala.map(e => e.getKey -> e.getValue.asText)).toMap,
      client = opt("client").map(_.asText),
      authenticated = field("authenticated").asBoolean,
      outcome = field("outcome").asText,
      durationMs = opt("durationMs").map(_.asLong)
    )
  }

  /** The report of a checkpoint: the Python inspector's field names (`stopstreaming checkpoint --json`). */
  def checkpointReport(r: CheckpointReport): JLinkedHashMap[String, Any] = {
    val conf = new JLinkedHashMap[String, Any]()
    r.conf.foreach { case (k, v) => conf.put(k, v) }
    obj(
      "path" -> r.path,
      "queryId" -> r.queryId,
      "lastPlannedBatch" -> r.lastPlannedBatch,
      "lastCommittedBatch" -> r.lastCommittedBatch,
      "batchesKept" -> r.batchesKept,
      "state" -> r.state,
      "clean" -> r.clean,
      "restartReruns" -> r.restartReruns.map(x =>
        obj(
          "batch" -> x.batch,
          "fromOffsets" -> x.fromOffsets.map(_.map(sourceOffset)),
          "toOffsets" -> x.toOffsets.map(sourceOffset),
          "why" -> x.why
        )
      ),
      "nextBatch" -> r.nextBatch,
      "watermarkMs" -> r.watermarkMs,
      "watermark" -> isoMillis(r.watermarkMs),
      "batchTimestampMs" -> r.batchTimestampMs,
      "offsetsFormat" -> r.offsetsFormat,
      "commitsFormat" -> r.commitsFormat,
      "sources" -> r.sources.map(sourceOffset),
      "conf" -> conf,
      "stateOperators" -> r.stateOperators.map { op =>
        val m = obj("id" -> op.id, "partitions" -> op.partitions, "provider" -> op.provider)
        op.name.foreach(n => m.put("name", n))
        if (op.stores.nonEmpty) m.put("stores", op.stores.asJava)
        m
      },
      "warnings" -> r.warnings,
      "lastRun" -> r.lastRun.map { l =>
        val m = lastRunRecord(l.record)
        m.put("howItEnded", l.howItEnded)
        m
      }
    )
  }

  private def sourceOffset(s: SourceOffset): JLinkedHashMap[String, Any] = {
    val m = obj("index" -> s.index)
    s.id.foreach(id => m.put("id", id))
    // Every built-in source writes JSON, shown as JSON; a source's own text is shown as written.
    m.put("offset", s.offset.map(o => if (s.json) tree(o).getOrElse(o) else o).orNull)
    m
  }

  private val IsoMillis =
    java.time.format.DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(java.time.ZoneOffset.UTC)

  /** An event time as the inspector shows it: ISO-8601 in UTC with milliseconds. */
  def isoMillis(ms: Long): String = IsoMillis.format(Instant.ofEpochMilli(ms))

  /** `_stopstreaming/last-run.json` beside a checkpoint: how the last run that we ended ended. */
  def lastRunRecord(r: LastRunRecord): JLinkedHashMap[String, Any] = obj(
    "version" -> LastRunRecord.Version,
    "queryId" -> r.queryId,
    "runId" -> r.runId,
    "name" -> r.name,
    "endedBy" -> r.endedBy.name,
    "source" -> r.source,
    "mode" -> r.mode,
    "when" -> r.when,
    "at" -> r.at.toString,
    "lastCommittedBatch" -> r.lastCommittedBatch,
    "detail" -> r.detail
  )

  /** Reads what [[lastRunRecord]] wrote; Left says what is wrong with it. */
  def readLastRun(text: String): Either[String, LastRunRecord] = tree(text).flatMap { n =>
    def str(f: String): Either[String, String] =
      Option(n.get(f)).filter(_.isTextual).map(_.asText).toRight(s"'$f' is not a string")
    def optStr(f: String): Option[String] = Option(n.get(f)).filter(_.isTextual).map(_.asText)
    for {
      _ <- if (n.isObject) Right(()) else Left("not a JSON object")
      id <- str("queryId")
      endedBy <- str("endedBy").flatMap(e =>
        RunEnding.parse(e).toRight(s"'endedBy' is '${SafeText.name(e)}', not one of ${RunEnding.all.mkString(", ")}")
      )
      at <- str("at").flatMap(a =>
        try Right(Instant.parse(a))
        catch { case NonFatal(_) => Left("'at' is not an ISO-8601 instant") }
      )
      batch <- Option(n.get("lastCommittedBatch")).filterNot(_.isNull) match {
        case None => Right(None)
        case Some(b) if b.isIntegralNumber && b.canConvertToLong && b.asLong >= 0 => Right(Some(b.asLong))
        case Some(_) => Left("'lastCommittedBatch' is not a batch id")
      }
    } yield LastRunRecord(
      id,
      optStr("runId").getOrElse(""),
      optStr("name"),
      endedBy,
      optStr("source").getOrElse(""),
      optStr("mode").getOrElse(""),
      optStr("when").getOrElse(""),
      at,
      batch,
      optStr("detail")
    )
  }

  /** Parses any JSON value; Left when the text is not JSON (or nests deeper than the parser allows). */
  def tree(text: String): Either[String, JsonNode] =
    try Option(treeReader.readTree(text)).filterNot(_.isMissingNode).toRight("empty")
    catch { case NonFatal(e) => Left(s"not JSON (${e.getClass.getSimpleName})") }

  /** The settings list, for the tests that keep the table of docs/configuration.md and the Python option names in step
    * with it.
    */
  def settings(all: Seq[Setting[_]]): JLinkedHashMap[String, Any] =
    obj("settings" -> all.map { s =>
      obj(
        "key" -> s.key,
        "kind" -> s.kind.name,
        "default" -> s.defaultText,
        "doc" -> s.doc,
        "python" -> s.pythonName
      )
    })
}
