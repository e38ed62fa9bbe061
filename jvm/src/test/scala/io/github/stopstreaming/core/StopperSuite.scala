package io.github.stopstreaming.core

import java.util.UUID
import java.util.concurrent.{CompletableFuture, TimeUnit}
import java.util.concurrent.atomic.{AtomicInteger, AtomicReference}

import org.scalatest.BeforeAndAfterEach
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** A query as the stop engine sees it, driven by the test: what it reports is set by hand, and what the engine does to
  * it (mark, stop) is counted.
  */
class ScriptedQuery(
    val continuous: Boolean = false,
    val internals: Boolean = true,
    stopTakesMs: Long = 0
) extends StopTarget {
  val id: UUID = UUID.randomUUID()
  val name: Option[String] = Some("scripted")
  val stopState = new AtomicReference[StopState](null)
  val stopDone = new CompletableFuture[StopState]()

  val pending = new AtomicReference[PendingStop](null)
  @volatile var lastProgress: Option[ProgressView] = None
  @volatile var dataAvailable = true
  def status: Option[StatusView] = Some(StatusView("scripted", dataAvailable, trigger))
  @volatile var batchInSinkStage: Option[Long] = None

  @volatile var running = true
  @volatile var waitingForTrigger = false
  @volatile var safeToMark = false
  @volatile var trigger = true
  val marks = new AtomicInteger()
  val stops = new AtomicInteger()
  // What the engine had done when it interrupted the query: was it marked first?
  @volatile var markedBeforeStop: Option[Boolean] = None
  // Whether the engine asked for the early wake-up of a query asleep between triggers.
  @volatile var stoppedAsIdle: Option[Boolean] = None

  def isRunning: Boolean = running
  def isContinuous: Boolean = continuous
  def supportsGracefulStop: Boolean = internals && !continuous
  def isWaitingForNextTrigger: Boolean = waitingForTrigger
  def isSafeToMarkTerminated: Boolean = safeToMark
  def markTerminated(): Boolean = { marks.incrementAndGet(); internals }
  def triggerActive: Boolean = trigger
  def stopNow(idle: Boolean): Unit = {
    markedBeforeStop = Some(marks.get > 0)
    stoppedAsIdle = Some(idle)
    stops.incrementAndGet()
    if (stopTakesMs > 0) Thread.sleep(stopTakesMs)
    running = false
  }

  // What the query's progress flush answers, and whether the query thread had ended when it was asked.
  @volatile var flush: ProgressFlush = ProgressFlush.NotNeeded
  @volatile var flushedAfterEnd: Option[Boolean] = None
  override def flushProgress(): ProgressFlush = { flushedAfterEnd = Some(!running); flush }

  /** The batch in flight commits and the loop, told to start no new batch, ends by itself. */
  def finishBatchAndEnd(): Unit = { trigger = false; running = false }
}

class StopperSuite extends AnyFunSuite with Eventually with BeforeAndAfterEach {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(10, Seconds), Span(0.01, Seconds))

  private var stopper: Stopper = _
  private val finished = new java.util.concurrent.ConcurrentLinkedQueue[StopPhase]()

  override def beforeEach(): Unit = {
    finished.clear()
    stopper = new Stopper(new NamedThreads, (_, s) => finished.add(s.phase))
  }

  override def afterEach(): Unit = stopper.close()

  private def phase(q: ScriptedQuery): StopPhase = q.stopState.get.phase

  private def ended(q: ScriptedQuery): StopState = q.stopDone.get(10, TimeUnit.SECONDS)

  test("graceful: the query is marked only at a safe moment, then ends by itself after its batch") {
    val q = new ScriptedQuery()
    stopper.request(q, StopMode.Graceful, 0, StopSource.Api)
    Thread.sleep(100)
    assert(phase(q) == StopPhase.Draining && q.marks.get == 0, "not marked while planning a batch")
    q.safeToMark = true
    eventually(assert(q.marks.get == 1))
    q.finishBatchAndEnd()
    assert(ended(q).phase == StopPhase.Stopped)
    assert(q.stops.get == 0, "a graceful stop that drained needs no interrupt")
    assert(q.marks.get == 1, "marked once")
    assert(finished.toArray.toSeq == Seq(StopPhase.Stopped), "the observer hears the end once")
  }

  test("a query seen waiting for its next trigger is marked before it is interrupted") {
    val q = new ScriptedQuery()
    q.trigger = false
    q.waitingForTrigger = true
    stopper.request(q, StopMode.Graceful, 0, StopSource.Rest)
    assert(ended(q).phase == StopPhase.Stopped)
    assert(q.markedBeforeStop.contains(true))
    assert(q.stoppedAsIdle.contains(true), "a marked idle query is woken before stop()")
  }

  test("a query that could not be marked is never woken early: Spark would take the interrupt for a failure") {
    val q = new ScriptedQuery(internals = false)
    q.trigger = false
    q.waitingForTrigger = true
    stopper.request(q, StopMode.Graceful, 0, StopSource.Rest)
    assert(ended(q).phase == StopPhase.Stopped)
    assert(q.stoppedAsIdle.contains(false))
  }

  test("an immediate request overrides a graceful stop that is still draining") {
    val q = new ScriptedQuery()
    val first = stopper.request(q, StopMode.Graceful, 0, StopSource.File)
    assert(first.mode == StopMode.Graceful)
    eventually(assert(phase(q) == StopPhase.Draining))
    val second = stopper.request(q, StopMode.Immediate, 0, StopSource.Rest)
    assert(second.source == StopSource.File, "the first request stays the stop of record")
    val end = ended(q)
    assert(end.phase == StopPhase.Escalated && end.detail.exists(_.contains("immediate stop requested by rest")))
    assert(end.code.contains(StopCodes.GracefulTimedOut))
    assert(q.stops.get == 1)
  }

  test("repeated and concurrent requests make one stop") {
    val q = new ScriptedQuery(stopTakesMs = 50)
    val threads = (1 to 20).map(_ => new Thread(() => stopper.request(q, StopMode.Immediate, 0, StopSource.Api)))
    threads.foreach(_.start())
    threads.foreach(_.join())
    assert(ended(q).phase == StopPhase.Stopped)
    assert(q.stops.get == 1)
    assert(finished.size == 1)
  }

  test("escalation: a graceful stop still draining at its timeout becomes an immediate one") {
    val q = new ScriptedQuery()
    stopper.request(q, StopMode.Graceful, 200, StopSource.Shutdown)
    val end = ended(q)
    assert(end.phase == StopPhase.Escalated && end.detail.exists(_.contains("200ms")))
    assert(end.code.contains(StopCodes.GracefulTimedOut), "an escalated stop says it cut the batch")
    assert(q.stops.get == 1)
  }

  test("continuous queries have no batch boundary: stopped immediately, and told so") {
    val q = new ScriptedQuery(continuous = true)
    stopper.request(q, StopMode.Graceful, 0, StopSource.Api)
    val end = ended(q)
    assert(end.phase == StopPhase.Stopped && end.detail.exists(_.contains("continuous")))
    assert(q.marks.get == 0 && q.stops.get == 1)
  }

  test("fallback without internals: the stop waits until no trigger is active, then stops") {
    val q = new ScriptedQuery(internals = false)
    stopper.request(q, StopMode.Graceful, 0, StopSource.Api)
    Thread.sleep(100)
    assert(q.stops.get == 0, "no interrupt while a trigger is active")
    assert(q.stopState.get.detail.exists(_.contains("fallback")))
    q.trigger = false
    assert(ended(q).phase == StopPhase.Stopped)
    assert(q.stops.get == 1 && q.marks.get == 0)
  }

  test("a query that has already ended is reported stopped without touching it") {
    val q = new ScriptedQuery()
    q.running = false
    assert(ended { stopper.request(q, StopMode.Graceful, 0, StopSource.Api); q }.phase == StopPhase.Stopped)
    assert(q.stops.get == 0 && q.marks.get == 0)
  }

  test("a watch that throws keeps watching: one bad look never ends the stop") {
    val flaky = new ScriptedQuery() {
      private val calls = new AtomicInteger()
      override def isSafeToMarkTerminated: Boolean =
        if (calls.incrementAndGet() <= 3) throw new NoSuchMethodError("a Spark we were not built for") else true
    }
    stopper.request(flaky, StopMode.Graceful, 0, StopSource.Api)
    eventually(assert(flaky.marks.get == 1))
    flaky.finishBatchAndEnd()
    assert(ended(flaky).phase == StopPhase.Stopped)
  }

  test("async progress: the last batch is made durable after the query thread ended, before the stop is over") {
    val q = new ScriptedQuery()
    q.flush = ProgressFlush.Durable(7, Seq("offsets/7", "commits/7"))
    stopper.request(q, StopMode.Graceful, 0, StopSource.Api)
    q.safeToMark = true
    eventually(assert(q.marks.get == 1))
    q.finishBatchAndEnd()
    val s = ended(q)
    assert(s.phase == StopPhase.Stopped && s.code.isEmpty && s.detail.isEmpty)
    assert(q.flushedAfterEnd.contains(true))
  }

  test("async progress that cannot be made durable: the stop says so with a code, in graceful and immediate mode") {
    for ((mode, idle) <- Seq(StopMode.Graceful -> true, StopMode.Graceful -> false, StopMode.Immediate -> false)) {
      val q = new ScriptedQuery()
      q.flush = ProgressFlush.Unflushed("no offsetLog here")
      q.waitingForTrigger = idle
      q.trigger = !idle
      stopper.request(q, mode, 0, StopSource.Api)
      if (mode == StopMode.Graceful && !idle) {
        q.safeToMark = true
        eventually(assert(q.marks.get == 1))
        q.finishBatchAndEnd()
      }
      val s = ended(q)
      assert(s.phase == StopPhase.Stopped, s"$mode idle=$idle")
      assert(s.code.contains(ProgressFlush.UnflushedCode), s"$mode idle=$idle")
      assert(s.detail.exists(_.contains("no offsetLog here")), s"$mode idle=$idle")
      assert(q.flushedAfterEnd.contains(true), s"$mode idle=$idle")
    }
  }
}
