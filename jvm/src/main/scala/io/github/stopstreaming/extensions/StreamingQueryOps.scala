package io.github.stopstreaming.extensions

import io.github.stopstreaming.control.ControlPlane
import io.github.stopstreaming.extensions.conf.StopConfig
import org.apache.spark.sql.streaming.StreamingQuery

/** `import io.github.stopstreaming.extensions.StreamingQueryOps._` adds `awaitExternalTermination`. */
object StreamingQueryOps {

  implicit class ExternalTermination(val query: StreamingQuery) extends AnyVal {

    /** Registers the query with the control plane (starting it if no plugin did), listens for a stop as `config` says,
      * and blocks until the query ends for any reason. Returns normally after a stop and rethrows the query's failure,
      * as `awaitTermination()` does.
      */
    def awaitExternalTermination(config: StopConfig): Unit = {
      ControlPlane.getOrStart(query.sparkSession).attach(query, config)
      query.awaitTermination()
    }

    /** The same with the plugin's own settings (`spark.stopstreaming.*`). */
    def awaitExternalTermination(): Unit = {
      ControlPlane.getOrStart(query.sparkSession).register(query)
      query.awaitTermination()
    }
  }
}
