package io.github.stopstreaming.rest

import java.util.concurrent.{
  CompletableFuture,
  ConcurrentHashMap,
  LinkedBlockingQueue,
  RejectedExecutionException,
  ThreadPoolExecutor,
  TimeUnit
}

import io.github.stopstreaming.core.{CheckpointException, CheckpointReport, NamedThreads}

/** The checkpoint reports the control servers serve, read by `read` (the runtime hands in the file-system reader) on
  * two threads of their own, never on a request thread. A report is kept for `ttlMs` after it was read, and requests
  * for a checkpoint being read wait for that one read: a client polling the route, or many at once, costs at most one
  * read a second per checkpoint.
  */
final class CheckpointReports(read: String => CheckpointReport, threads: NamedThreads, ttlMs: Long = 1000L) {

  private final class Entry(val future: CompletableFuture[CheckpointReport]) {
    @volatile var doneAt: Long = Long.MaxValue
    future.whenComplete((_, _) => doneAt = System.nanoTime())
    def fresh(now: Long): Boolean = !future.isDone || now - doneAt < ttlMs * 1000000L
  }

  private val cache = new ConcurrentHashMap[String, Entry]()

  private val pool = {
    val p = new ThreadPoolExecutor(
      2,
      2,
      30,
      TimeUnit.SECONDS,
      new LinkedBlockingQueue[Runnable](CheckpointReports.MaxQueued),
      threads.factory("checkpoint")
    )
    p.allowCoreThreadTimeOut(true)
    p
  }

  /** The report of the checkpoint at `root`: the one read within the last `ttlMs`, the read under way, or a new read.
    */
  def report(root: String): CompletableFuture[CheckpointReport] = {
    val now = System.nanoTime()
    if (cache.size > CheckpointReports.MaxEntries) cache.values.removeIf(e => !e.fresh(now))
    cache.compute(root, (_, e) => if (e != null && e.fresh(now)) e else new Entry(start(root))).future
  }

  private def start(root: String): CompletableFuture[CheckpointReport] =
    try CompletableFuture.supplyAsync(() => read(root), pool)
    catch {
      case _: RejectedExecutionException =>
        val f = new CompletableFuture[CheckpointReport]()
        f.completeExceptionally(new CheckpointException("too many checkpoints are being read; try again", io = true))
        f
    }

  def close(): Unit = pool.shutdownNow()
}

object CheckpointReports {
  val MaxQueued = 64
  val MaxEntries = 256

  /** How long a request waits for a read before it is answered 503 (the read goes on, and is kept once done). */
  val WaitMs = 20000L
}
