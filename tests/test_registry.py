"""Registration of every query, lookups, concurrency and scale of the HTTP stop."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ended, run_cli, start_noop, stopstreaming_threads, wait_for


def _names(api) -> list[str]:
    return [q["name"] for q in api.get("/api/v1/queries").json()["queries"] if q["active"]]


def test_queries_of_default_and_new_sessions_are_registered(spark, api):
    other = spark.newSession()
    q1 = start_noop(spark, name="in-default-session")
    q2 = start_noop(other, name="in-new-session")
    listed = wait_for(lambda: {"in-default-session", "in-new-session"} <= set(_names(api)) and _names(api))
    assert "in-new-session" in listed
    body = api.query("in-new-session")
    assert body["id"] == str(q2.id) and body["runId"] == str(q2.runId)
    assert set(body) >= {
        "id",
        "runId",
        "name",
        "active",
        "status",
        "lastProgress",
        "stop",
        "exception",
    }
    assert set(body["status"]) == {"message", "isDataAvailable", "isTriggerActive"}
    q1.stop()
    q2.stop()


@pytest.mark.smoke
def test_stop_by_id_and_by_name_on_one_port(spark, api):
    a = start_noop(spark, name="by-name")
    b = start_noop(spark)
    r = api.post("/api/v1/queries/by-name/stop", params={"wait": "30s"})
    assert r.status_code == 200 and r.json()["id"] == str(a.id), r.text
    r = api.post(f"/api/v1/queries/{b.id}/stop", params={"wait": "30s"})
    assert r.status_code == 200 and r.json()["name"] is None, r.text
    assert not a.isActive and not b.isActive


def test_seed_compatible_stop_path(spark, api):
    q = start_noop(spark)
    r = api.post(f"/stop/{q.id}")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(q.id) and r.json()["stop"]["source"] == "rest"
    ended(q)
    assert api.get(f"/stop/{q.id}").status_code == 405


def test_ended_queries_stay_visible_with_their_error(spark, api, tmpdir_path):
    def boom(df, batch_id):
        raise ValueError("boom from batch")

    q = spark.readStream.format("rate").load().writeStream.foreachBatch(boom).queryName("failing").start()
    wait_for(lambda: not q.isActive, what="the failing query to end")
    body = wait_for(
        lambda: (b := api.query(str(q.id))) and b["exception"] and b,
        what="exception recorded",
    )
    assert body["active"] is False and "boom from batch" in body["exception"]
    assert "failing" in [x["name"] for x in api.get("/api/v1/queries").json()["queries"]]


@pytest.mark.smoke
def test_fifty_concurrent_stops_make_one_stop(spark, api):
    q = start_noop(spark, name="concurrent")
    wait_for(lambda: q.lastProgress is not None, what="first progress")
    with ThreadPoolExecutor(50) as pool:
        answers = list(
            pool.map(
                lambda _: api.post(f"/api/v1/queries/{q.id}/stop", params={"wait": "30s"}),
                range(50),
            )
        )
    codes = {r.status_code for r in answers}
    assert codes <= {200, 202}, codes
    stops = {(r.json()["stop"]["requestedAt"], r.json()["stop"]["source"]) for r in answers}
    assert len(stops) == 1, f"more than one stop was made: {stops}"
    ended(q)
    final = api.query(str(q.id))["stop"]
    assert final["state"] == "STOPPED" and final["requestedAt"] == next(iter(stops))[0]


def test_twenty_queries_each_stop_on_their_own_request(spark, api):
    before = stopstreaming_threads(spark)
    queries = [
        start_noop(spark, name=f"fleet-{i}", trigger={"processingTime": "2 seconds"}) for i in range(20)
    ]
    wait_for(
        lambda: all(q.lastProgress is not None for q in queries),
        timeout=60,
        what="all queries running",
    )
    with_twenty = stopstreaming_threads(spark)
    assert with_twenty - before < 5, f"stopstreaming threads grew from {before} to {with_twenty}"
    for i, q in enumerate(queries):
        r = api.post(f"/api/v1/queries/{q.name}/stop", params={"wait": "30s"})
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        assert not q.isActive
        assert all(other.isActive for other in queries[i + 1 :]), "a stop ended another query"


def test_a_name_that_two_sessions_run_is_ambiguous_everywhere(spark, api, stop_dir):
    other = spark.newSession()
    a = start_noop(spark, "twin")
    b = start_noop(other, "twin")
    wait_for(lambda: all(api.get(f"/api/v1/queries/{q.id}").status_code == 200 for q in (a, b)))
    r = api.post("/api/v1/queries/twin/stop")
    assert r.status_code == 409, r.text
    body = r.json()
    assert "twin" in body["error"] and {m["id"] for m in body["matches"]} == {str(a.id), str(b.id)}
    assert len({m["session"] for m in body["matches"]}) == 2, "the sessions tell them apart"
    assert api.get("/api/v1/queries/twin").status_code == 409
    assert a.isActive and b.isActive, "an ambiguous name stops nothing"

    cli = run_cli(api, "stop", "twin")
    assert cli.returncode == 8 and "ambiguous" in cli.stderr, cli.stderr

    path = os.path.join(stop_dir, "twin.stop")
    open(path, "w").close()
    wait_for(lambda: os.path.exists(path + ".error"), what="an error file for the ambiguous name")
    with open(path + ".error", encoding="utf-8") as f:
        assert "name one by id" in f.read()
    os.remove(path + ".error")
    assert a.isActive and b.isActive

    r = api.post(f"/api/v1/queries/{a.id}/stop", params={"wait": "30s"})
    assert r.status_code == 200 and not a.isActive and b.isActive, "by id it still works"
    assert api.query("twin")["id"] == str(b.id), "one running query left with the name"
    b.stop()
