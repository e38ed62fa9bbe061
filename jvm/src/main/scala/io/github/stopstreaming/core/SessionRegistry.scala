package io.github.stopstreaming.core

import java.util.{Collections, UUID, WeakHashMap}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.StreamingQuery

/** The sessions of this driver, held weakly. A query's own session is not always the active one when its start event
  * arrives (PySpark's `newSession()` never makes its session active in the JVM), so a started query is looked up in
  * every session seen so far.
  */
final class SessionRegistry {
  private val sessions =
    Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap[SparkSession, java.lang.Boolean]()))

  def record(session: SparkSession): Unit = if (session != null) sessions.add(session)

  def contains(session: SparkSession): Boolean = sessions.contains(session)

  /** The active queries named `name`, in every session seen so far. */
  def activeNamed(name: String): Seq[StreamingQuery] = {
    val candidates = SparkSession.getActiveSession.toSeq ++ SparkSession.getDefaultSession.toSeq ++
      sessions.synchronized(sessions.asScala.toList)
    candidates.distinct.flatMap { s =>
      try s.streams.active.filter(_.name == name).toSeq
      catch { case NonFatal(_) => Nil }
    }
  }

  /** The running query with this id, from the active session first, then from any session. */
  def findQuery(id: UUID): Option[StreamingQuery] = {
    val candidates = SparkSession.getActiveSession.toSeq ++ SparkSession.getDefaultSession.toSeq ++
      sessions.synchronized(sessions.asScala.toList)
    candidates.iterator
      .flatMap { s =>
        try Option(s.streams.get(id))
        catch { case NonFatal(_) => None }
      }
      .toSeq
      .headOption
  }
}
