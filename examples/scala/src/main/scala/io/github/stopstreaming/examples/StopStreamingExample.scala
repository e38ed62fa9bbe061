package io.github.stopstreaming.examples

import io.github.stopstreaming.extensions.StreamingQueryOps._
import io.github.stopstreaming.extensions.conf.{FileSystemStopConfig, RestStopConfig, StopConfig}
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.streaming.{StreamingQuery, Trigger}

/** A streaming job to try stopstreaming with `spark-submit`:
  * {{{
  * spark-submit --class io.github.stopstreaming.examples.StopStreamingExample \
  *   --conf spark.plugins=io.github.stopstreaming.StopStreamingPlugin <assembly jar> \
  *   [--name example] [--trigger 2s] [--batch-ms 500] [--checkpoint DIR] [--rest-port N | --stop-dir DIR]
  * }}}
  * A rate source feeds a sink that logs the begin and end of every batch; the job waits for an external stop (the
  * plugin's own API by default) and exits 0 once stopped.
  */
object StopStreamingExample {
  def main(args: Array[String]): Unit = {
    val opts = args.grouped(2).collect { case Array(k, v) if k.startsWith("--") => k.drop(2) -> v }.toMap
    val name = opts.getOrElse("name", "example")
    val batchMs = opts.get("batch-ms").map(_.toLong).getOrElse(500L)
    val spark = SparkSession.builder().appName(s"stopstreaming-$name").getOrCreate()

    val count = opts.get("queries").map(_.toInt).getOrElse(1)
    val names = if (count == 1) Seq(name) else (1 to count).map(i => s"$name-$i")
    val queries = names.map(n => start(spark, n, opts, batchMs))

    val config: Option[StopConfig] =
      opts
        .get("rest-port")
        .map(p => RestStopConfig(port = p.toInt))
        .orElse(opts.get("stop-dir").map(FileSystemStopConfig(_)))
    queries.foreach { query =>
      config match {
        case Some(c) => query.awaitExternalTermination(c)
        case None => query.awaitExternalTermination()
      }
      System.out.println(s"QUERY STOPPED ${query.id}")
    }
    spark.stop()
  }

  private def start(spark: SparkSession, name: String, opts: Map[String, String], batchMs: Long): StreamingQuery = {
    val writer = spark.readStream
      .format("rate")
      .option("rowsPerSecond", "10")
      .load()
      .writeStream
      .queryName(name)
      .trigger(Trigger.ProcessingTime(opts.getOrElse("trigger", "2 seconds")))
      .foreachBatch { (df: DataFrame, id: Long) =>
        System.out.println(s"BATCH BEGIN $id")
        Thread.sleep(batchMs)
        val rows = df.count()
        System.out.println(s"BATCH END $id rows=$rows")
      }
    val query = opts.get("checkpoint").fold(writer)(dir => writer.option("checkpointLocation", s"$dir/$name")).start()
    System.out.println(s"QUERY STARTED ${query.id} name=$name")
    query
  }
}
