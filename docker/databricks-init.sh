#!/bin/bash
# Databricks cluster init script: puts the stopstreaming jar on the driver's classpath and turns
# the plugin on. Upload the assembly jar next to this script (a workspace file or a Unity Catalog
# volume), set STOPSTREAMING_JAR below to its path, and add this script under
# Compute > your cluster > Advanced options > Init scripts.
set -euo pipefail

STOPSTREAMING_JAR="${STOPSTREAMING_JAR:-/Volumes/main/default/libs/stopstreaming-spark4_2.13-0.1.0-assembly.jar}"

if [[ "${DB_IS_DRIVER:-TRUE}" != "TRUE" ]]; then
  exit 0  # executors need nothing: the plugin is driver-only
fi

cp "$STOPSTREAMING_JAR" /databricks/jars/

# Driver Spark conf. The token comes from a Databricks secret in the cluster's environment
# variables (STOPSTREAMING_TOKEN={{secrets/<scope>/<key>}}), so it never sits in this file.
cat > /databricks/driver/conf/00-stopstreaming.conf <<'CONF'
[driver] {
  "spark.plugins" = "io.github.stopstreaming.StopStreamingPlugin"
  "spark.stopstreaming.rest.port" = "8558"
  "spark.stopstreaming.fs.stopDir" = "dbfs:/stopstreaming"
}
CONF
