"""Metrics in Spark's own metrics system (scraped from the Spark UI's Prometheus servlet and parsed
with prometheus_client), and the audit trail: GET /api/v1/events, the CLI, and the Spark event log
read back after the driver stopped."""

from __future__ import annotations

import glob
import json
import os

import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import SCRIPT

TOKEN = "obs-token"
EVENT = "io.github.stopstreaming.observe.StopStreamingAuditEvent"
PROMETHEUS_SERVLET = "org.apache.spark.metrics.sink.PrometheusServlet"


def _scrape(ui: str) -> dict[str, float]:
    text = requests.get(ui + "/metrics/prometheus", timeout=10).text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def _metric(samples: dict[str, float], part: str) -> float:
    found = [v for k, v in samples.items() if part in k and "stopstreaming" in k.lower()]
    assert found, f"no metric with {part!r} among {len(samples)} samples"
    return found[0]


def test_metrics_and_audit_trail_of_a_real_driver(start_driver, tmp_path):
    events_dir, stop_dir = tmp_path / "events", tmp_path / "stop"
    events_dir.mkdir()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    d = start_driver(
        {
            "rest_port": 0, "rest_host": "127.0.0.1", "auth_token_file": str(token_file),
            "fs_stop_dir": str(stop_dir), "fs_poll_interval": "200ms", "metrics_per_query": True,
            "spark_conf": {
                "spark.ui.enabled": "true", "spark.ui.port": "0", "spark.ui.prometheus.enabled": "true",
                "spark.metrics.conf.*.sink.prometheusServlet.class": PROMETHEUS_SERVLET,
                "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
                "spark.eventLog.enabled": "true", "spark.eventLog.dir": events_dir.as_uri(),
                "spark.eventLog.compress": "false",  # Spark 4 compresses with zstd by default
            },
        },
        "obs-http", "obs-file",
    )  # fmt: skip
    ui = next(ln.split(" ", 1)[1] for ln in d.output().splitlines() if ln.startswith("UI "))
    ui = "http://127.0.0.1:" + ui.rsplit(":", 1)[1]  # the UI listens on every interface; stay on loopback
    auth = {"Authorization": f"Bearer {TOKEN}"}

    before = _scrape(ui)
    assert _metric(before, "stops_requested_rest_graceful") == 0
    assert _metric(before, "queries_registered") == 2
    assert _metric(before, "queries_running") == 2
    assert _metric(before, "stopstreaming_query_obs_http_latestBatchId") >= 0, "a source per query"

    # One refused request (wrong token), one stop over HTTP, one by a stop file, one conf change.
    r = requests.post(
        f"{d.url}/api/v1/queries/obs-file/stop", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert r.status_code == 401
    r = requests.put(f"{d.url}/api/v1/conf/threshold", data=b"0.5", headers=auth, timeout=10)
    assert r.status_code == 200
    r = requests.post(
        f"{d.url}/api/v1/queries/obs-http/stop", params={"wait": "30s"}, headers=auth, timeout=60
    )
    assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED"
    after = _scrape(ui)
    assert _metric(after, "stops_requested_rest_graceful") == 1
    assert _metric(after, "stops_finished_stopped") == 1
    assert _metric(after, "http_refused_auth") >= 1
    assert _metric(after, "conf_version") == 1 and _metric(after, "conf_keys") == 1
    assert _metric(after, "stops_duration_Count") == 1, "the timer of request-to-end times"
    assert _metric(after, "queries_registered") == 1
    assert _metric(after, "http_requests_2xx") >= 2

    events = requests.get(f"{d.url}/api/v1/events", headers=auth, timeout=10).json()["events"]
    kinds = [(e["kind"], e.get("queryName")) for e in events]
    assert ("stop-refused", "obs-file") in kinds and ("stop-requested", "obs-http") in kinds
    assert ("stop-finished", "obs-http") in kinds and ("conf-changed", None) in kinds
    refused = next(e for e in events if e["kind"] == "stop-refused")
    assert refused["client"] == "127.0.0.1" and refused["authenticated"] is False
    assert TOKEN not in json.dumps(events) and "nope" not in json.dumps(events), "never a token"
    newest = events[-1]["seq"]
    assert requests.get(
        f"{d.url}/api/v1/events", params={"since": newest}, headers=auth, timeout=10
    ).json() == {"events": []}

    env = {"PATH": "/usr/bin:/bin", "STOPSTREAMING_TOKEN": TOKEN}
    cli = __import__("subprocess").run(
        [SCRIPT, "events", "--url", d.url], capture_output=True, text=True, env=env, timeout=60
    )
    assert cli.returncode == 0 and "stop-finished" in cli.stdout and "obs-http" in cli.stdout, cli.stderr

    (stop_dir / "obs-file.stop").write_text("")
    assert d.proc.wait(timeout=120) == 0, d.output()[-3000:]

    # The event log of the run holds the same records, as Spark listener events.
    # One file (Spark 3.5), or a directory of rolled files (`eventlog_v2_*`, Spark 4).
    logs = sorted(p for p in glob.glob(str(events_dir / "**" / "*"), recursive=True) if os.path.isfile(p))
    assert logs and not any(p.endswith(".inprogress") for p in logs), os.listdir(events_dir)
    records = []
    for path in logs:
        with open(path, encoding="utf-8") as f:
            for line in f:
                e = json.loads(line) if line.startswith("{") else {}
                if e.get("Event") == EVENT:
                    records.append(e)
    by_kind = {(r["kind"], r["queryName"], r["source"]) for r in records}
    assert ("stop-requested", "obs-http", "rest") in by_kind
    assert ("stop-refused", "obs-file", "rest") in by_kind
    assert ("stop-requested", "obs-file", "file") in by_kind
    http_stop = next(r for r in records if r["kind"] == "stop-requested" and r["source"] == "rest")
    assert http_stop["client"] == "127.0.0.1" and http_stop["authenticated"] is True
    assert http_stop["mode"] == "graceful" and http_stop["outcome"].startswith("accepted")
    finished = [r for r in records if r["kind"] == "stop-finished"]
    assert {r["queryName"] for r in finished} == {"obs-http", "obs-file"}
    assert all(r["outcome"] == "STOPPED" and r["durationMs"] >= 0 for r in finished)
