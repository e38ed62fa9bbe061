"""The installed ``stopstreaming`` console script, run as a subprocess against the live driver."""

from __future__ import annotations

import json
import os

import pytest

from conftest import TOKEN, BatchRecorder, ended, run_cli, start_noop, start_recorded, wait_for
from stopstreaming import QueryNotFoundError, RequestError, StopStreamingClient

pytestmark = pytest.mark.tooling(
    "the CLI renders our HTTP answers as text and exit codes; the stops behind them run on every line"
)


@pytest.mark.smoke
def test_list_and_show(spark, api):
    q = start_noop(spark, name="cli-listed")
    wait_for(lambda: q.lastProgress is not None)
    r = run_cli(api, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["ID", "NAME", "ACTIVE", "BATCH", "STATUS", "STOP"]
    assert any(str(q.id) in line and "cli-listed" in line for line in r.stdout.splitlines())
    r = run_cli(api, "--json", "show", "cli-listed")
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == str(q.id)
    q.stop()


def test_stop_by_name_with_wait(spark, api):
    q = start_noop(spark, name="cli-stop")
    r = run_cli(api, "--json", "stop", "cli-stop", "--wait", "30s")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["active"] is False and body["stop"]["state"] == "STOPPED"
    assert not q.isActive


def test_wait_running_out_exits_6(spark, api, tmpdir_path):
    recorder = BatchRecorder(seconds=4.0)
    q = start_recorded(spark, recorder, tmpdir_path, name="cli-slow")
    wait_for(recorder.in_flight)
    r = run_cli(api, "stop", "cli-slow", "--wait", "500ms")
    assert r.returncode == 6, (r.stdout, r.stderr)
    assert "still runs" in r.stderr
    ended(q)


def test_wrong_token_exits_4(api):
    r = run_cli(api, "list", token="not-the-token")
    assert r.returncode == 4 and "authentication failed" in r.stderr
    assert "not-the-token" not in r.stderr


def test_unreachable_exits_5(api):
    r = run_cli(api, "list", url="http://127.0.0.1:9")
    assert r.returncode == 5 and "unreachable" in r.stderr


def test_unknown_query_exits_3(api):
    r = run_cli(api, "show", "no-such-query")
    assert r.returncode == 3 and "not found" in r.stderr
    r = run_cli(api, "stop", "no-such-query")
    assert r.returncode == 3


def test_a_wrong_url_path_is_not_a_missing_query(api):
    # Before error codes, any 404 read as "no such query": exit 3 for a mistake in --url.
    r = run_cli(api, "list", url=api.url + "/control")
    assert r.returncode == 1 and "no such endpoint" in r.stderr and "HTTP 404" in r.stderr, r.stderr
    with pytest.raises(RequestError) as e:
        StopStreamingClient(api.url + "/control", TOKEN).query("anything")
    assert e.value.status == 404 and not isinstance(e.value, QueryNotFoundError)
    with pytest.raises(QueryNotFoundError):
        StopStreamingClient(api.url, TOKEN).conf_get("no.such.key")


def test_usage_errors_exit_2(api):
    assert run_cli(api, "stop").returncode == 2
    assert run_cli(api, "stop", "x", "--mode", "violent").returncode == 2
    assert run_cli(api, "list", url="ftp://nowhere").returncode == 2


def test_global_options_work_after_the_command_too(spark, api, tmpdir_path):
    token_file = os.path.join(tmpdir_path, "token")
    with open(token_file, "w", encoding="utf-8") as f:
        f.write(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    q = start_noop(spark, "cli-options")
    r = run_cli(api, "list", "--json", token=None, url="http://127.0.0.1:9")
    assert r.returncode == 5, "--url from the environment is only a default; this one is unreachable"
    r = run_cli(api, "list", "--json", "--url", api.url, "--token-file", token_file, token=None)
    assert r.returncode == 0, r.stderr
    assert "cli-options" in [x["name"] for x in json.loads(r.stdout)["queries"]]
    r = run_cli(
        api, "stop", "cli-options", "--wait", "30s", "--url", api.url, "--token-file", token_file, token=None
    )
    assert r.returncode == 0, r.stderr
    assert not q.isActive
    r = run_cli(api, "show", "cli-options", "--token-file", os.path.join(tmpdir_path, "missing"), token=None)
    assert r.returncode == 2 and "token-file" in r.stderr
