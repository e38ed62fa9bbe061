package io.github.stopstreaming.core

import java.time.Instant
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.streaming.StreamingQuery

/** What a lookup by id or name found. */
sealed trait Lookup

object Lookup {
  final case class Running(query: TrackedQuery) extends Lookup
  final case class Ended(query: EndedQuery) extends Lookup
  case object NotFound extends Lookup

  /** Several running queries have this name (in different sessions). */
  final case class Ambiguous(matches: Seq[QueryView]) extends Lookup
}

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
    // Remembered before it leaves the running map, inside the same atomic step: a lookup between the two would find
    // the query in neither and answer 404 for a query that has just stopped.
    running.computeIfPresent(
      id,
      (_, t) =>
        if (t.runId == runId) {
          val e = t.ended(exception)
          remember(e)
          moved = Some(e); gone = Some(t); null
        } else t
    )
    gone.foreach(_.fireEndHooks())
    moved.foreach(onEnded)
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
    val live = runningQueries.sortBy(_.startedAt)
    val runs = live.map(_.runId).toSet
    // An ending run is briefly in both lists (see markEnded); it is shown once, as running.
    live.map(_.view) ++ endedQueries.reverse.filterNot(e => runs.contains(e.runId)).map(_.view)
  }

  /** Finds a query by id, or by name among running queries (then among ended ones, newest first). A name that two
    * running queries share is ambiguous.
    */
  def lookup(idOrName: String): Lookup = {
    sweep()
    QueryRegistry.parseId(idOrName) match {
      case Some(id) =>
        Option(running.get(id))
          .map(Lookup.Running(_))
          .orElse(endedQueries.reverse.find(_.id == id).map(Lookup.Ended(_)))
          .getOrElse(Lookup.NotFound)
      case None =>
        runningQueries.filter(_.name.contains(idOrName)).sortBy(_.startedAt) match {
          case Seq(one) => Lookup.Running(one)
          case Seq() =>
            endedQueries.reverse.find(_.name.contains(idOrName)).map(Lookup.Ended(_)).getOrElse(Lookup.NotFound)
          case many => Lookup.Ambiguous(many.map(_.view))
        }
    }
  }
}

object QueryRegistry {
  private val UuidPattern = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

  def parseId(s: String): Option[UUID] =
    if (s.matches(UuidPattern)) Some(UUID.fromString(s)) else None
}
