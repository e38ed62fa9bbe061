package io.github.stopstreaming.core

import org.scalatest.funsuite.AnyFunSuite

/** What a stranger can make the audit trail hold: bounded in count and size, and never at the expense of real records.
  */
class AuditBoundsSuite extends AnyFunSuite {
  private val stranger = Caller(Some("10.0.0.66"), authenticated = false)
  private val operator = Caller(Some("10.0.0.1"), authenticated = true)

  test("text from outside is escaped and cut") {
    assert(SafeText.name("orders") == "orders")
    assert(SafeText.name("a\nb\r\u001b[31m\u202ex") == "a\\nb\\r\\u001b[31m\\u202ex")
    assert(SafeText.name("back\\slash") == "back\\slash", "plain text keeps its backslashes")
    assert(SafeText.name("c:\\dir\nx") == "c:\\\\dir\\nx", "beside an escape, a backslash is doubled")
    val long = SafeText.name("n" * 200000)
    assert(long.startsWith("n" * SafeText.MaxName) && long.endsWith("…(+199744 chars)"))
    assert(long.length < SafeText.MaxName + 20)
  }

  test("one refusal record per client and reason and window, the rest counted, the keys bounded") {
    val s = new RefusalSampler(windowMs = 1000, maxKeys = 3)
    assert(s.admit(Some("a"), "unauthorized", "rest", 0))
    assert(!s.admit(Some("a"), "unauthorized", "rest", 10))
    assert(s.admit(Some("a"), "forbidden-origin", "rest", 10))
    assert(s.admit(Some("b"), "unauthorized", "rest", 10))
    // Past three keys, new clients share one window per reason.
    assert(s.admit(Some("c"), "unauthorized", "rest", 20))
    (1 to 1000).foreach(i => assert(!s.admit(Some(s"x$i"), "unauthorized", "rest", 30)))
    assert(s.expired(999).isEmpty)
    val closed = s.expired(1020)
    assert(closed.map(c => (c.client, c.more)).toSet == Set(Some("a") -> 1L, RefusalSampler.Overflow -> 1000L))
    assert(s.admit(Some("a"), "unauthorized", "rest", 1001), "a new window records again")
  }

  test("a flood of refusals never evicts the records of real actions, and costs a bounded number of records") {
    var now = 0L
    val audit = new AuditLog(capacity = 10, refusalCapacity = 5, clock = () => now)
    var logged = 0
    audit.addSink(_ => logged += 1)
    audit.on(ControlEvent.ConfChanged(ConfChange("k", "set", Some(1), None, "rest"), operator))
    for (i <- 1 to 100000) {
      audit.on(
        ControlEvent.StopRefused(
          "q" * 1000 + i,
          StopSource.Rest,
          Caller(Some(s"10.1.${i % 250}.${i % 7}"), false),
          "x",
          "no"
        )
      )
      if (i % 10000 == 0) now += AuditLog.RefusalWindowMs
    }
    val (kept, refused) = audit.sizes
    assert(kept == 1 && refused <= 5)
    val all = audit.since(0)
    assert(all.exists(r => r.kind == AuditRecord.ConfChanged), "the real record is still there")
    assert(all.forall(_.queryName.forall(_.length < SafeText.MaxName + 20)))
    // Per window at most one record and one summary per open key (bounded, whatever the number of clients).
    assert(logged <= 1 + 10 * 2 * (AuditLog.RefusalKeys + 1), s"$logged records went to the driver log")
  }

  test("a refused conf change or an unknown query from a caller without the token is sampled too") {
    val audit = new AuditLog(capacity = 10, refusalCapacity = 5)
    for (_ <- 1 to 50) {
      audit.on(ControlEvent.ConfChanged(ConfChange("k\n", "set", None, Some("too large"), "rest"), stranger))
      audit.on(ControlEvent.StopRequested("nope", StopRequest.Default, StopSource.Rest, stranger, StopOutcome.NotFound))
    }
    audit.on(ControlEvent.StopRequested("nope", StopRequest.Default, StopSource.Rest, operator, StopOutcome.NotFound))
    assert(audit.sizes == (1, 2))
    assert(audit.since(0).forall(_.options.get("key").forall(!_.contains("\n"))))
  }
}
