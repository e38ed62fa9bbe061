package io.github.stopstreaming.dynconf

/** Times `DynamicConf.get` inside the driver JVM, for `make bench` (a Py4J call would dwarf it). */
object DynamicConfReadTimer {

  /** Nanoseconds per `DynamicConf.get(key)`, over `iterations` reads after as many warm-up reads. */
  def nanosPerRead(key: String, iterations: Int): Double = {
    var sink = 0
    def run(): Unit = {
      var i = 0
      while (i < iterations) { sink += DynamicConf.get(key).fold(0)(_.length); i += 1 }
    }
    run()
    val t0 = System.nanoTime()
    run()
    val ns = (System.nanoTime() - t0).toDouble / iterations
    if (sink == Int.MinValue) throw new IllegalStateException("unreachable") // keeps the loop alive
    ns
  }
}
