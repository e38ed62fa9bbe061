package io.github.stopstreaming.control

import java.time.Instant
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.streaming.StreamingQuery

/** The queries a driver runs, keyed by query id, plus a bounded memory of ended ones (oldest dropped first). Needs no
  * thread: entries arrive from the listener or the APIs and leave when the termination event comes or a lookup sees the
  * thread gone.
  */
final class QueryRegistry(retainTerminated: Int, onEnded: EndedQuery => Unit = _ => ()) {
  private val running = new ConcurrentHashMap[UUID, TrackedQuery]()
  // Ended queries in the order they ended; guarded by its own lock.
  private val ended = new java.util.ArrayDeque[EndedQuery]()

  /** Registers a running query (idempotent per run); returns its entry and whether it is new. */
  def register(query: StreamingQuery): (TrackedQuery, Boolean) = {
    val fresh = new TrackedQuery(query, Instant.now())
    val entry = running.compute(
      query.id,
      (_, existing) => if (existing != null && existing.runId == query.runId) existing else fresh
    )
    (entry, entry eq fresh)
  }

  def runningEntry(id: UUID): Option[TrackedQuery] = Option(running.get(id))

  /** Moves a query to the ended list; a later run with the same id is left alone. */
  def markEnded(id: UUID, runId: UUID, exception: Option[String]): Option[EndedQuery] = {
    var moved: Option[EndedQuery] = None
    var gone: Option[TrackedQuery] = None
    running.computeIfPresent(
      id,
      (_, t) =>
        if (t.runId == runId) { moved = Some(t.ended(exception)); gone = Some(t); null }
        else t
    )
    gone.foreach(_.fireEndHooks())
    moved.foreach { e =>
      remember(e)
      onEnded(e)
    }
    moved
  }

  private def remember(e: EndedQuery): Unit = ended.synchronized {
    if (retainTerminated > 0) {
      ended.addLast(e)
      while (ended.size > retainTerminated) ended.removeFirst()
    }
  }

  /** Entries whose thread has died but whose termination event has not come yet. */
  private def sweep(): Unit =
    running.values.asScala.foreach { t => if (!t.isRunning) markEnded(t.id, t.runId, None) }

  def runningQueries: Seq[TrackedQuery] = running.values.asScala.toSeq

  def endedQueries: Seq[EndedQuery] = ended.synchronized(ended.asScala.toSeq)

  /** Every known query, running ones first, then ended ones newest first. */
  def views: Seq[QueryView] = {
    sweep()
    runningQueries.sortBy(_.startedAt).map(_.view) ++
      endedQueries.reverse.map(TrackedQuery.view)
  }

  /** Finds a query by id, or by name among running queries (then among ended ones). */
  def lookup(idOrName: String): Option[Either[TrackedQuery, EndedQuery]] = {
    sweep()
    val asId = QueryRegistry.parseId(idOrName)
    asId match {
      case Some(id) =>
        runningEntry(id).map(Left(_)).orElse(endedQueries.reverse.find(_.id == id).map(Right(_)))
      case None =>
        runningQueries
          .find(_.name.contains(idOrName))
          .map(Left(_))
          .orElse(endedQueries.reverse.find(_.name.contains(idOrName)).map(Right(_)))
    }
  }

  def size: Int = running.size
}

object QueryRegistry {
  private val UuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

  def parseId(s: String): Option[UUID] =
    if (s.matches(UuidPattern)) Some(UUID.fromString(s)) else None
}
