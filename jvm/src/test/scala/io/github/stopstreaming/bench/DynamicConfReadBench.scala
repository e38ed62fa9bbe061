package io.github.stopstreaming.bench

import io.github.stopstreaming.core.ControlSettings
import io.github.stopstreaming.dynconf.DynamicConf
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.hadoop.conf.Configuration

/** `make bench` runs this (`./sbt "jvm/Test/runMain io.github.stopstreaming.bench.DynamicConfReadBench"`): the cost of
  * one `DynamicConf.get` in the driver JVM, which a Py4J call would dwarf. Prints `dynconf_read_ns_scala=<ns>`.
  */
object DynamicConfReadBench {
  def main(args: Array[String]): Unit = {
    val iterations = args.headOption.map(_.toInt).getOrElse(2000000)
    val settings = ControlSettings.fromConf(
      Map("spark.stopstreaming.rest.enabled" -> "false", "spark.stopstreaming.conf.bench.k0" -> "v0"),
      env = Map.empty
    )
    val rt = StopStreamingRuntime.startForPlugin(settings, new Configuration())
    try {
      var sink = 0
      def run(): Unit = {
        var i = 0
        while (i < iterations) { sink += DynamicConf.get("bench.k0").fold(0)(_.length); i += 1 }
      }
      run() // warm-up
      val t0 = System.nanoTime()
      run()
      val ns = (System.nanoTime() - t0).toDouble / iterations
      println(f"dynconf_read_ns_scala=$ns%.1f (sink $sink)")
    } finally StopStreamingRuntime.shutdown(rt)
  }
}
