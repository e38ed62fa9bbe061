package io.github.stopstreaming.rest

import java.io.ByteArrayOutputStream
import java.nio.charset.StandardCharsets.UTF_8
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import io.github.stopstreaming.codec.Json
import io.github.stopstreaming.core.QueryView

/** The JSON of each query, kept until the query's view changes (a batch ended, its status or stop state moved), so a
  * listing of many idle queries serializes nothing that did not change; and the last listing's body, served again as
  * long as every view in it is the very object it was built from (a view object is kept until something in it moves,
  * see [[io.github.stopstreaming.core.TrackedQuery.view]]).
  */
final class QueryJsonCache {
  private val cache = new ConcurrentHashMap[UUID, (QueryView, Array[Byte])]()
  @volatile private var lastList: (Array[QueryView], Array[Byte]) = (Array.empty, Array.emptyByteArray)

  /** The JSON of one query view. */
  def bytes(v: QueryView): Array[Byte] = {
    val hit = cache.get(v.runId)
    if (hit != null && hit._1 == v) hit._2 // a case class's equals looks at identity first
    else {
      val b = Json.bytes(Json.query(v))
      cache.put(v.runId, (v, b))
      b
    }
  }

  /** `{"queries":[...]}` of these views; entries of runs no longer listed are dropped. */
  def list(views: Seq[QueryView]): Array[Byte] = {
    val (shown, body) = lastList
    if (shown.length == views.length && views.iterator.zip(shown.iterator).forall { case (a, b) => a eq b }) body
    else {
      val fresh = build(views)
      lastList = (views.toArray, fresh)
      fresh
    }
  }

  private def build(views: Seq[QueryView]): Array[Byte] = {
    val out = new ByteArrayOutputStream(views.size * 600 + 16)
    out.write(Open)
    views.iterator.zipWithIndex.foreach { case (v, i) =>
      if (i > 0) out.write(',')
      out.write(bytes(v))
    }
    out.write(Close)
    if (cache.size > 2 * views.size + 16) {
      val live = views.map(_.runId).toSet
      cache.keySet.removeIf(id => !live.contains(id))
    }
    out.toByteArray
  }

  private val Open = "{\"queries\":[".getBytes(UTF_8)
  private val Close = "]}".getBytes(UTF_8)
}
