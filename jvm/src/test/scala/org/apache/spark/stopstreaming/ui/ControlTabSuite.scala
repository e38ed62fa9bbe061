package org.apache.spark.stopstreaming.ui

import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.Trigger
import org.scalatest.concurrent.Eventually
import org.scalatest.funsuite.AnyFunSuite
import org.scalatest.time.{Seconds, Span}

/** The Spark UI tab's stop, called as the servlet calls it, against a real driver with its UI on. */
class ControlTabSuite extends AnyFunSuite with Eventually {
  implicit override val patienceConfig: PatienceConfig = PatienceConfig(Span(30, Seconds), Span(0.05, Seconds))

  test("a stop from the tab of a driver without a token is recorded as not authenticated") {
    val spark = SparkSession
      .builder()
      .master("local[2]")
      .appName("stopstreaming-tab-test")
      .config("spark.ui.enabled", "true")
      .config("spark.ui.port", "0")
      .config("spark.ui.killEnabled", "true")
      .config("spark.sql.shuffle.partitions", "2")
      .config("spark.stopstreaming.rest.port", "0")
      .config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
      .getOrCreate()
    try {
      val plane = StopStreamingRuntime.plane.getOrElse(fail("no control plane"))
      assert(plane.settings.token.isEmpty)
      val q = spark.readStream
        .format("rate")
        .load()
        .writeStream
        .queryName("tab-target")
        .format("noop")
        .trigger(Trigger.ProcessingTime("10 minutes"))
        .start()
      val tab = new ControlTabContent(plane, None, spark.sparkContext.ui.get, Set("localhost"))
      val asked =
        TabStopRequest("anyone", Some("tab-target"), Some("graceful"), Some("made-up"), None, None, Some("127.0.0.1"))
      assert(tab.stop(asked).isRight)
      q.awaitTermination(30000)
      val records = plane.audit.since(0).filter(r => r.source == "spark-ui" && r.kind == "stop-requested")
      assert(records.nonEmpty, plane.audit.since(0))
      assert(records.forall(!_.authenticated), "no token is configured: nobody proved anything")
    } finally spark.stop()
  }
}
