"""The README's Python quick start, as a file: `spark-submit examples/quickstart.py`.

No --jars is needed: configure() brings the plugin jar that ships inside the wheel, also into a
driver JVM that spark-submit started before this code runs. Set STOPSTREAMING_TOKEN first to let
other hosts stop it (without a token the control server listens on 127.0.0.1 only).
"""

from pyspark.sql import SparkSession

import stopstreaming

spark = stopstreaming.configure(SparkSession.builder.appName("orders")).getOrCreate()
query = (
    spark.readStream.format("rate").option("rowsPerSecond", 10).load()
    .writeStream.format("console").queryName("orders")
    .option("checkpointLocation", "checkpoints/orders")
    .start()
)  # fmt: skip
print(f"control server: {stopstreaming.control_url(spark)}", flush=True)
stopstreaming.await_external_termination(query)  # returns once stopped from outside
print("query stopped", flush=True)
