#!/bin/bash
# The official Spark image's entrypoint, reduced to what a driver container needs: `driver` runs
# spark-submit in client mode (as Spark on Kubernetes starts a driver pod), anything else runs as
# given. Either way under tini, so that SIGTERM from `docker stop` or a pod deletion reaches the
# JVM, whose shutdown hook stops the streaming queries gracefully.
set -e

if [ -z "$JAVA_HOME" ]; then
  JAVA_HOME=$(java -XshowSettings:properties -version 2>&1 >/dev/null | grep 'java.home' | awk '{print $3}')
  export JAVA_HOME
fi

case "$1" in
  driver)
    shift 1
    CMD=(
      "$SPARK_HOME/bin/spark-submit"
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}"
      --deploy-mode client
      "$@"
    )
    ;;
  *)
    CMD=("$@")
    ;;
esac

exec /usr/bin/tini -s -- "${CMD[@]}"
