package io.github.stopstreaming.core

/** Decides which refusals of callers without the token become audit records: the first one of each client and reason in
  * a window, the others of that window only counted. Bounded by construction: at most `maxKeys` windows are open at
  * once; refusals from further clients share one window per reason (client unknown), so a flood from many addresses
  * costs no more than one from a single address.
  */
final class RefusalSampler(windowMs: Long, maxKeys: Int) {
  import RefusalSampler._

  private val open = new java.util.HashMap[(Option[String], String), Window]()

  /** Whether this refusal is the first of its window (then it is recorded); otherwise it is counted. */
  def admit(client: Option[String], code: String, source: String, now: Long): Boolean = synchronized {
    val key = if (open.containsKey((client, code)) || open.size < maxKeys) (client, code) else (Overflow, code)
    val w = open.get(key)
    if (w == null) {
      open.put(key, new Window(key._1, code, source, now, now + windowMs))
      true
    } else {
      w.more += 1
      false
    }
  }

  /** Windows that have passed, removed; those with refusals that were only counted are returned, to be recorded. */
  def expired(now: Long): Seq[Closed] = synchronized {
    if (open.isEmpty) Nil
    else {
      val out = Seq.newBuilder[Closed]
      val it = open.values.iterator()
      while (it.hasNext) {
        val w = it.next()
        if (now >= w.endsAt) {
          it.remove()
          if (w.more > 0) out += Closed(w.client, w.code, w.startedAt, w.endsAt, w.more, w.source)
        }
      }
      out.result()
    }
  }
}

object RefusalSampler {

  /** The shared window of clients past the limit. */
  val Overflow: Option[String] = Some("(other clients)")

  private final class Window(
      val client: Option[String],
      val code: String,
      val source: String,
      val startedAt: Long,
      val endsAt: Long
  ) {
    var more = 0L
  }

  /** A window that passed with `more` refusals that were counted, not recorded. */
  final case class Closed(
      client: Option[String],
      code: String,
      startedAt: Long,
      endsAt: Long,
      more: Long,
      source: String
  )
}
