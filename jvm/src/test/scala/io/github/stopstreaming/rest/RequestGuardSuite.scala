package io.github.stopstreaming.rest

import org.scalatest.funsuite.AnyFunSuite

class RequestGuardSuite extends AnyFunSuite {
  private val noToken = new RequestGuard(false, "127.0.0.1", Set.empty, "http")
  private val withToken = new RequestGuard(true, "0.0.0.0", Set("https://ops.example.com"), "http")

  test("without a token: loopback names and addresses, with or without port, and IP literals are served") {
    Seq("127.0.0.1", "127.0.0.1:8558", "localhost", "LOCALHOST:1", "[::1]", "[::1]:8558", "10.0.0.5:8558")
      .foreach(h => assert(noToken.refusal(Some(h), None).isEmpty, h))
    assert(noToken.refusal(None, None).isEmpty, "a request without Host (HTTP/1.0) carries no rebound name")
  }

  test("without a token: any other name is refused (DNS rebinding)") {
    Seq("evil.example", "evil.example:8558", "localhost.evil.example", "127.0.0.1.evil.example:1")
      .foreach(h => assert(noToken.refusal(Some(h), None).exists(_.contains("Host")), h))
  }

  test("an Origin other than the server's own is refused; the own one passes") {
    assert(noToken.refusal(Some("127.0.0.1:8558"), Some("http://127.0.0.1:8558")).isEmpty)
    assert(noToken.refusal(Some("localhost:8558"), Some("http://LOCALHOST:8558/")).isEmpty)
    Seq("https://evil.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:8558")
      .foreach(o => assert(noToken.refusal(Some("127.0.0.1:8558"), Some(o)).isDefined, o))
    assert(!noToken.corsAllowed("https://ops.example.com"), "no listed origins without a token")
  }

  test("with a token: any Host, listed origins pass and get CORS, others are refused") {
    assert(withToken.refusal(Some("driver.cluster.local:8558"), None).isEmpty)
    assert(withToken.refusal(Some("driver:8558"), Some("https://ops.example.com")).isEmpty)
    assert(withToken.corsAllowed("https://OPS.example.com/"))
    assert(withToken.refusal(Some("driver:8558"), Some("https://evil.example")).exists(_.contains("allowedOrigins")))
    assert(!withToken.corsAllowed("https://evil.example"))
  }
}
