package io.github.stopstreaming.core

import java.nio.file.Files

import org.scalatest.funsuite.AnyFunSuite

class ControlSettingsSuite extends AnyFunSuite {
  private def parse(entries: (String, String)*): ControlSettings =
    ControlSettings.fromConf(entries.map { case (k, v) => ("spark.stopstreaming." + k) -> v }.toMap, env = Map.empty)

  private def failure(entries: (String, String)*): InvalidSettingException =
    intercept[InvalidSettingException](parse(entries: _*))

  test("defaults") {
    val s = parse()
    assert(s.restEnabled && s.autoRegister)
    assert(s.restPort == 8558 && s.stopPath == "/stop")
    assert(s.stopMode == StopMode.Graceful && s.stopTimeoutMs == 0L)
    assert(s.retainTerminated == 100 && s.token.isEmpty)
  }

  test("without a token the server binds to loopback; with one, to all interfaces unless told otherwise") {
    assert(parse().bindHost == "127.0.0.1")
    assert(parse("auth.token" -> "s3cret").bindHost == "0.0.0.0")
    assert(parse("auth.token" -> "s3cret", "rest.host" -> "10.1.2.3").bindHost == "10.1.2.3")
    assert(parse("rest.host" -> "0.0.0.0").bindHost == "0.0.0.0")
  }

  test("token sources: conf, then token file, then environment") {
    val f = Files.createTempFile("token", ".txt")
    Files.write(f, "from-file\n".getBytes("UTF-8"))
    assert(parse("auth.tokenFile" -> f.toString).token.contains("from-file"))
    assert(parse("auth.token" -> "direct", "auth.tokenFile" -> f.toString).token.contains("direct"))
    val env = ControlSettings.fromConf(Map.empty, env = Map("STOPSTREAMING_TOKEN" -> "from-env"))
    assert(env.token.contains("from-env"))
  }

  test("the token never appears in toString") {
    assert(!parse("auth.token" -> "very-secret-value").toString.contains("very-secret-value"))
  }

  test("each bad value fails with a message that names its key") {
    val cases = Seq(
      Seq("rest.port" -> "eighty") -> "rest.port",
      Seq("rest.port" -> "70000") -> "rest.port",
      Seq("rest.enabled" -> "yes") -> "rest.enabled",
      Seq("rest.stopPath" -> "stop") -> "rest.stopPath",
      Seq("rest.stopPath" -> "/stop/") -> "rest.stopPath",
      Seq("rest.stopPath" -> "/a/../b") -> "rest.stopPath",
      Seq("rest.stopPath" -> "/api/v1") -> "rest.stopPath",
      Seq("stop.mode" -> "gentle") -> "stop.mode",
      Seq("stop.timeout" -> "soon") -> "stop.timeout",
      Seq("stop.timeout" -> "-5s") -> "stop.timeout",
      Seq("autoRegister" -> "1") -> "autoRegister",
      Seq("registry.retainTerminated" -> "-1") -> "registry.retainTerminated",
      Seq("auth.tokenFile" -> "/does/not/exist") -> "auth.tokenFile",
      Seq("auth.token" -> "has space") -> "auth.token"
    )
    cases.foreach { case (entries, key) =>
      val e = failure(entries: _*)
      assert(e.getMessage.startsWith(s"spark.stopstreaming.$key:"), e.getMessage)
    }
  }

  test("durations use Spark's format") {
    assert(parse("stop.timeout" -> "30s").stopTimeoutMs == 30000L)
    assert(parse("stop.timeout" -> "5m").stopTimeoutMs == 300000L)
    assert(parse("stop.timeout" -> "500ms").stopTimeoutMs == 500L)
    assert(parse("stop.timeout" -> "250").stopTimeoutMs == 250L)
  }

  test("initial dynamic values may not seed a managed query's pause") {
    assert(parse("conf.app.rate" -> "5").confInitial == Map("app.rate" -> "5"))
    val e = failure("conf.stopstreaming.paused.orders" -> "x")
    assert(e.getMessage.contains("pauses of managed queries"), e.getMessage)
  }
}
