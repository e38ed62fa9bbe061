package org.apache.spark.stopstreaming

import java.lang.reflect.{InvocationHandler, Method, Proxy}
import java.time.Instant
import java.util.UUID
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicReference

import scala.jdk.CollectionConverters._

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core._
import io.github.stopstreaming.observe.StopStreamingAuditEvent
import org.apache.spark.sql.streaming.StreamingQuery
import org.apache.spark.util.JsonProtocol
import org.scalatest.funsuite.AnyFunSuite

/** One audit record, three readers: the JSON of `GET /api/v1/events` (and the driver log), and the event-log line Spark
  * writes for [[StopStreamingAuditEvent]]. A record is built from every [[ControlEvent]] kind and the two are compared
  * field by field. In Spark's package because its event-log writer (`JsonProtocol`) is Spark's own.
  */
class AuditRecordsSuite extends AnyFunSuite {
  private val now = Instant.parse("2026-01-02T03:04:05.678Z")
  private val operator = Caller(Some("10.0.0.1"), authenticated = true)
  private val stranger = Caller(Some("10.0.0.66"), authenticated = false)

  /** The fields of an audit record, in order, as docs/observability.md and the clients read them. */
  private val Fields = Seq(
    "seq",
    "time",
    "kind",
    "queryId",
    "queryName",
    "source",
    "mode",
    "options",
    "client",
    "authenticated",
    "outcome",
    "durationMs"
  )

  /** A query handle that answers its id, run id and name (all a record reads of it), nothing else. */
  private def query(name: String): TrackedQuery = {
    val (id, runId) = (UUID.randomUUID(), UUID.randomUUID())
    val handler = new InvocationHandler {
      def invoke(proxy: Any, m: Method, args: Array[AnyRef]): AnyRef = m.getName match {
        case "id" => id
        case "runId" => runId
        case "name" => name
        case "toString" => s"stub query $name"
        case _ => null
      }
    }
    val q = Proxy.newProxyInstance(getClass.getClassLoader, Array(classOf[StreamingQuery]), handler)
    new TrackedQuery(q.asInstanceOf[StreamingQuery], now)
  }

  private val orders = query("orders")
  private val draining = StopState(StopPhase.Draining, StopMode.Graceful, StopSource.Rest, 30000, now, None, None)
  private val finished = StopState(
    StopPhase.Escalated,
    StopMode.Graceful,
    StopSource.File,
    30000,
    now,
    Some(now.plusMillis(1234)),
    Some("timed out\nafter 30s"),
    code = Some("unflushed")
  )
  private val waiting = PendingStop(StopCondition.CaughtUp, 30000, StopSource.Rest, operator, now)
  private val ended = EndedQuery(
    UUID.randomUUID(),
    UUID.randomUUID(),
    Some("old"),
    None,
    now,
    now,
    None,
    None,
    None,
    new AtomicReference[StopState](null),
    new CompletableFuture[StopState]()
  )
  private val view = ManagedView(
    "managed",
    ManagedState.Backoff,
    now,
    Some(now.plusSeconds(2)),
    Some(UUID.randomUUID()),
    None,
    1,
    0,
    1,
    Some("boom"),
    0,
    RestartPolicy.Default,
    persistedPause = false
  )
  private val timed = StopRequest(Some(StopMode.Graceful), Some(5000), StopCondition.AfterBatch(3), StopPurpose.Pause)

  /** An example of every kind of event, with the outcomes that make records of different shapes. */
  private val examples: Seq[ControlEvent] = Seq(
    ControlEvent.QueryRegistered(orders),
    ControlEvent.QueryEnded(ended),
    ControlEvent.StopRequested("orders", timed, StopSource.Rest, operator, StopOutcome.Accepted(orders, draining)),
    ControlEvent.StopRequested("orders", timed, StopSource.Rest, operator, StopOutcome.Pending(orders, waiting)),
    ControlEvent
      .StopRequested("old", StopRequest.Default, StopSource.Api, Caller.Internal, StopOutcome.AlreadyEnded(ended)),
    ControlEvent.StopRequested("nope", StopRequest.Default, StopSource.Rest, operator, StopOutcome.NotFound),
    ControlEvent.StopRequested("nope\n", StopRequest.Default, StopSource.Rest, stranger, StopOutcome.NotFound),
    ControlEvent.StopRequested("twin", StopRequest.Default, StopSource.SparkUi, operator, StopOutcome.Ambiguous(Nil)),
    ControlEvent.StopRefused("orders", StopSource.Rest, stranger, "unauthorized", "no token"),
    ControlEvent.StopRefused("orders", StopSource.SparkUi, operator, "forbidden-origin", "from elsewhere"),
    ControlEvent.ConfChanged(ConfChange("threshold", "set", Some(7), None, "rest"), operator),
    ControlEvent.ConfChanged(ConfChange("k\n", "unset", None, Some("too large"), "rest"), stranger),
    ControlEvent.StopCancelled(orders, waiting, StopSource.Rest, operator),
    ControlEvent.StopFinished(orders, finished),
    ControlEvent.ManagedTransition(view, ManagedState.Running, "run failed", None, Caller.Internal),
    ControlEvent.ManagedTransition(view, ManagedState.Paused, "resumed", Some(StopSource.Rest), operator)
  )

  private def entry(e: ControlEvent): Option[AuditEntry] = AuditRecords.of(e, now)

  private def fields(json: String): Seq[(String, String)] =
    Json.tree(json).toOption.get.properties().asScala.toSeq.map(e => e.getKey -> e.getValue.toString)

  test("the examples hold every kind of control event") {
    val kinds = classOf[ControlEvent].getDeclaredClasses.filter(classOf[ControlEvent].isAssignableFrom).toSet
    assert(kinds.size >= 8, kinds)
    assert(examples.map(_.getClass).toSet == kinds, "a new kind of event needs an example here")
  }

  test("the event-log line and the JSON of a record agree field by field, for every kind of event") {
    val records = examples.flatMap(entry).zipWithIndex.map { case (e, i) => e.record.copy(seq = i + 1L) }
    assert(
      records.map(_.kind).toSet == Set(
        AuditRecord.StopRequested,
        AuditRecord.StopRefused,
        AuditRecord.ConfChanged,
        AuditRecord.ConfRefused,
        AuditRecord.StopCancelled,
        AuditRecord.StopFinished,
        AuditRecord.Lifecycle
      )
    )
    records.foreach { r =>
      val api = fields(Json.string(Json.auditRecord(r)))
      val line = JsonProtocol.sparkEventToJsonString(StopStreamingAuditEvent(r))
      val logged = fields(line)
      assert(logged.head == ("Event" -> "\"io.github.stopstreaming.observe.StopStreamingAuditEvent\""), line)
      assert(api.map(_._1) == Fields, r)
      assert(logged.tail == api, s"the event log's line differs from the API's record:\n$line\n$api")
      // A History Server that has this class reads the line back into the same record.
      assert(JsonProtocol.sparkEventFromJson(line) == StopStreamingAuditEvent(r), line)
    }
  }

  test("records say what each event did") {
    def only(e: ControlEvent) = entry(e).get
    assert(examples.take(2).flatMap(entry).isEmpty, "a query registered or ended leaves no record")

    val accepted = only(examples(2))
    assert(accepted.sampledAs.isEmpty)
    val r = accepted.record
    assert(r.kind == AuditRecord.StopRequested && r.queryId.contains(orders.id.toString))
    assert(r.queryName.contains("orders") && r.mode.contains("graceful") && r.outcome == "accepted: DRAINING")
    assert(r.options == Map("timeout" -> "5000ms", "when" -> "batch:3", "purpose" -> "pause"))
    assert(r.client.contains("10.0.0.1") && r.authenticated && r.time == now && r.seq == 0)

    assert(only(examples(3)).record.outcome == "pending: caught-up")
    assert(only(examples(4)).record.queryId.contains(ended.id.toString))

    val refusedOperator = only(examples(5))
    assert(refusedOperator.sampledAs.isEmpty && refusedOperator.record.kind == AuditRecord.StopRefused)
    assert(refusedOperator.record.options.isEmpty)
    val refusedStranger = only(examples(6))
    assert(refusedStranger.sampledAs.contains("not-found"))
    assert(refusedStranger.record.options == Map("reason" -> "not-found"))
    assert(refusedStranger.record.queryName.contains("nope\\n"), "text from outside is escaped")
    assert(only(examples(7)).record.outcome == "refused: 0 queries have this name")

    assert(only(examples(8)).sampledAs.contains("unauthorized"))
    val beforeDoor = only(examples(9))
    assert(beforeDoor.sampledAs.isEmpty && beforeDoor.record.options == Map("reason" -> "forbidden-origin"))

    val conf = only(examples(10)).record
    assert(conf.kind == AuditRecord.ConfChanged && conf.outcome == "ok")
    assert(conf.options == Map("key" -> "threshold", "op" -> "set", "version" -> "7"))
    val confRefused = only(examples(11))
    assert(confRefused.sampledAs.contains("conf-refused") && confRefused.record.kind == AuditRecord.ConfRefused)
    assert(confRefused.record.options == Map("key" -> "k\\n", "op" -> "unset", "reason" -> "conf-refused"))

    val cancelled = only(examples(12)).record
    assert(cancelled.kind == AuditRecord.StopCancelled && cancelled.options == Map("when" -> "caught-up"))

    val done = only(examples(13)).record
    assert(done.source == "file" && done.outcome == "ESCALATED" && done.durationMs.contains(1234L))
    assert(done.options == Map("detail" -> "timed out\\nafter 30s", "code" -> "unflushed"))
    assert(done.client.isEmpty && !done.authenticated)

    val supervised = only(examples(14)).record
    assert(supervised.source == "supervisor" && supervised.outcome == "RUNNING -> BACKOFF")
    assert(supervised.options("nextAttemptAt") == now.plusSeconds(2).toString)
    assert(only(examples(15)).record.source == "rest")
  }

  test("the summary of a sampler's window is a refusal record of its own") {
    val s = AuditRecords.refusalSummary(RefusalSampler.Closed(Some("10.0.0.66"), "unauthorized", 0, 60000, 41, "rest"))
    assert(s.kind == AuditRecord.StopRefused && s.time == Instant.ofEpochMilli(60000) && !s.authenticated)
    assert(s.options == Map("reason" -> "unauthorized", "count" -> "41", "since" -> Instant.EPOCH.toString))
    val line = JsonProtocol.sparkEventToJsonString(StopStreamingAuditEvent(s))
    assert(fields(line).tail == fields(Json.string(Json.auditRecord(s))))
  }
}
