package io.github.stopstreaming.rest

import org.scalatest.funsuite.AnyFunSuite

class RequestPartsSuite extends AnyFunSuite {
  test("paths split into decoded segments") {
    assert(
      RequestParts.segments("/api/v1/queries/my%20query/stop") == Right(Seq("api", "v1", "queries", "my query", "stop"))
    )
    assert(RequestParts.segments("/") == Right(Nil))
  }

  test("anything that could climb out of a path or smuggle a separator is rejected") {
    Seq(
      "/stop/../x",
      "/stop/%2e%2e/x",
      "/stop/a%2Fb",
      "/stop//x",
      "/stop/x/",
      "/stop/%0a",
      "/stop/%zz",
      "/stop/%e2%28%a1",
      "/stop/a%5cb",
      "stop"
    ).foreach { p =>
      assert(RequestParts.segments(p).isLeft, p)
    }
  }

  test("query strings decode, and duplicates are an error") {
    assert(RequestParts.query("mode=immediate&wait=5s") == Right(Map("mode" -> "immediate", "wait" -> "5s")))
    assert(RequestParts.query("a=1+2&b=%41") == Right(Map("a" -> "1 2", "b" -> "A")))
    assert(RequestParts.query("mode=a&mode=b").isLeft)
    assert(RequestParts.query("x=%4").isLeft)
  }

  test("bodies are read up to a limit") {
    def in(n: Int) = new java.io.ByteArrayInputStream(new Array[Byte](n))
    assert(RequestParts.readBody(in(10), 10).map(_.length).contains(10))
    assert(RequestParts.readBody(in(11), 10).isEmpty)
  }

  test("bearer tokens are checked, and a refusal carries WWW-Authenticate") {
    val auth = new BearerAuth(Some("tok"))
    auth.check(Some("Bearer tok"))
    auth.check(Some("bearer tok"))
    Seq(None, Some("Bearer nope"), Some("tok"), Some("Basic dG9r"), Some("Bearer tok2")).foreach { h =>
      val e = intercept[HttpError](auth.check(h))
      assert(e.code == 401 && e.headers.exists(_._1 == "WWW-Authenticate"), h)
      assert(!e.message.contains("tok2"))
    }
    new BearerAuth(None).check(None)
  }
}
