package io.github.stopstreaming.core

import java.time.Instant
import java.util.concurrent.ConcurrentLinkedQueue

import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

class ConditionWatcherSuite extends AnyFunSuite with Eventually {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(5, Seconds), Span(0.01, Seconds))
  import ConditionWatcher.{met, Look}

  private val now = Instant.parse("2026-11-22T10:00:00Z")
  private def look(
      last: Option[(Long, Long)] = Some((3L, 10L)),
      active: Boolean = false,
      data: Boolean = true,
      sink: Option[Long] = None
  ) = Look(now, last, active, data, sink)

  test("when is parsed alike for every source, with a message naming the bad value") {
    assert(StopCondition.parse("caught-up") == Right(StopCondition.CaughtUp))
    assert(StopCondition.parse(" Batch:12 ") == Right(StopCondition.AfterBatch(12)))
    assert(StopCondition.parse("now") == Right(StopCondition.Now))
    assert(StopCondition.parse("in:90s", now) == Right(StopCondition.At(now.plusSeconds(90))))
    assert(StopCondition.parse("2026-11-22T12:00:00+02:00") == Right(StopCondition.At(now)))
    assert(StopCondition.parse("batch:x").left.exists(_.contains("batch:<N>")))
    assert(StopCondition.parse("in:soon").left.exists(_.contains("duration")))
    assert(StopCondition.parse("tomorrow").left.exists(_.contains("'tomorrow'")))
    assert(StopRequest.parse(Some("immediate"), None, Some("caught-up")).left.exists(_.contains("graceful")))
    assert(
      StopRequest.parse(None, Some("30s"), Some("batch:4")) == Right(
        StopRequest(None, Some(30000), StopCondition.AfterBatch(4))
      )
    )
  }

  test("caught-up: only after a trigger ran, between triggers, when the last one found no data") {
    val c = StopCondition.CaughtUp
    assert(!met(c, look(last = None, data = false)), "not before the first trigger")
    assert(!met(c, look(data = true)), "the latest trigger found data")
    assert(!met(c, look(data = false, active = true)), "a trigger is running")
    assert(met(c, look(data = false)))
  }

  test("batch:N: batch N in its sink stage, or N committed; a no-data trigger's id alone does not count") {
    val c = StopCondition.AfterBatch(5)
    assert(!met(c, look(last = Some((4L, 10L)))))
    assert(!met(c, look(last = Some((4L, 10L)), sink = Some(4L))))
    assert(met(c, look(last = Some((4L, 10L)), sink = Some(5L))), "batch 5 is in its sink stage")
    assert(met(c, look(last = Some((5L, 10L)))), "batch 5 committed with rows")
    assert(!met(c, look(last = Some((5L, 0L)))), "a trigger without data reports the next id with no rows")
    assert(met(c, look(last = Some((6L, 0L)))))
  }

  test("an instant: met once it has come") {
    assert(!met(StopCondition.At(now.plusMillis(1)), look()))
    assert(met(StopCondition.At(now), look()))
  }

  test("the watcher fires a met condition once, drops a cancelled one, and stops ticking when nothing waits") {
    val fired = new ConcurrentLinkedQueue[StopCondition]()
    val conditions = new ConditionWatcher(new NamedThreads, (_, p) => fired.add(p.condition))
    try {
      val q = new ScriptedQuery()
      q.trigger = false
      q.dataAvailable = true
      q.lastProgress = Some(ProgressView(0, "", 5, 1.0, 1.0))
      val p = PendingStop(StopCondition.CaughtUp, 0, StopSource.Rest, Caller.Internal, Instant.now())
      q.pending.set(p)
      conditions.watch(q)
      Thread.sleep(100)
      assert(fired.isEmpty, "the source still reports data")
      q.dataAvailable = false
      eventually(assert(fired.size == 1))
      assert(q.pending.get == null)
      eventually(assert(conditions.pendingCount == 0))

      val other = new ScriptedQuery()
      other.pending.set(p.copy(condition = StopCondition.At(Instant.now().plusSeconds(3600))))
      conditions.watch(other)
      other.pending.set(null) // cancelled
      eventually(assert(conditions.pendingCount == 0))
      assert(fired.size == 1)
    } finally conditions.close()
  }
}
