"""Arbitrary state under every stop: see tests/test_workloads_windows.py. Sessions of event-time rows
that time out one after another mid-stream, kept by ``applyInPandasWithState`` (an event-time timeout)
and by ``transformWithStateInPandas`` (event-time timers, Spark 4 only)."""

from __future__ import annotations

import pyspark
import pytest

import workloads

pytestmark = pytest.mark.timeout(300)


def test_apply_in_pandas_with_state_and_an_event_time_timeout(spark, tmp_path):
    workloads.run_every_stop(spark, tmp_path, workloads.sessions_with_state())


@pytest.mark.skipif(
    int(pyspark.__version__.split(".")[0]) < 4, reason="transformWithStateInPandas came in Spark 4.0"
)
def test_transform_with_state_in_pandas_and_event_time_timers(spark, tmp_path):
    workloads.run_every_stop(spark, tmp_path, workloads.sessions_with_timers())
