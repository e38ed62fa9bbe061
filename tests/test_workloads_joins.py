"""Stream-stream joins and deduplication under every stop: see tests/test_workloads_windows.py."""

from __future__ import annotations

import pytest

import workloads

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("how", ["inner", "left_outer"])
def test_stream_stream_join_with_watermarks_on_both_sides(spark, tmp_path, how):
    workloads.run_every_stop(spark, tmp_path, workloads.join(how))


@pytest.mark.parametrize("within_watermark", [False, True], ids=["dropDuplicates", "withinWatermark"])
def test_deduplication_with_a_watermark(spark, tmp_path, within_watermark):
    workloads.run_every_stop(spark, tmp_path, workloads.dedup(within_watermark))
