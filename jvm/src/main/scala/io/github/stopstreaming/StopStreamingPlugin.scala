package io.github.stopstreaming

import io.github.stopstreaming.plugin.StopStreamingDriverPlugin
import org.apache.spark.api.plugin.{DriverPlugin, ExecutorPlugin, SparkPlugin}

/** The Spark plugin: `--conf spark.plugins=io.github.stopstreaming.StopStreamingPlugin`. Driver side only; executors
  * get nothing.
  */
class StopStreamingPlugin extends SparkPlugin {
  override def driverPlugin(): DriverPlugin = new StopStreamingDriverPlugin

  override def executorPlugin(): ExecutorPlugin = null
}
