"""The control page in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from conftest import TOKEN, ended, start_noop, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "target", "test-artifacts")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by `make setup`")
expect = sync_api.expect
if CHROMIUM is None:
    pytest.skip("no chromium on PATH: `make tools` installs Debian's chromium", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Any:
    with sync_api.sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _shot(page: Any, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path, full_page=True)
    return path


def _use_token(page: Any, token: str) -> None:
    page.fill("#token", token)
    page.click("#token-form button[type=submit]")


@pytest.mark.tooling(
    "the control page's JavaScript over our HTTP API; the stops behind it run on every line elsewhere"
)
def test_the_page_lists_queries_stops_one_with_the_button_and_edits_the_conf(spark, api, browser):
    a = start_noop(spark, "page-orders", trigger={"processingTime": "1 minute"})
    b = start_noop(spark, "page-payments", trigger={"processingTime": "1 minute"})
    wait_for(lambda: a.lastProgress is not None and b.lastProgress is not None, timeout=60)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(api.url + "/")

    # Without a token the page says what to do; a wrong one is refused in words.
    page.wait_for_selector("#message.error")
    assert "needs a token" in page.text_content("#message")
    _use_token(page, "wrong-token")
    expect(page.locator("#message")).to_contain_text("refused", timeout=15000)
    assert "token was refused" in page.text_content("#message")

    _use_token(page, TOKEN)
    row_a = page.locator("#queries tbody tr", has_text="page-orders")
    row_b = page.locator("#queries tbody tr", has_text="page-payments")
    row_a.wait_for()
    row_b.wait_for()
    assert "running" in row_a.text_content()
    assert "Waiting for next trigger" in row_a.text_content()
    _shot(page, "control-page.png")

    # No layout jump: a row keeps its place and size across a refresh.
    before = row_b.bounding_box()
    page.wait_for_timeout(3500)
    assert row_b.bounding_box() == before

    # Keyboard: the stop button is reachable and the dialog opens with focus on Cancel.
    page.get_by_role("button", name="Stop page-orders gracefully").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog[open]")
    assert "page-orders" in page.text_content("#confirm-text")
    assert page.evaluate("document.activeElement.id") == "confirm-cancel"
    page.keyboard.press("Escape")
    assert a.isActive and api.query("page-orders")["stop"] is None, "Escape must not stop anything"

    page.get_by_role("button", name="Stop page-orders gracefully").click()
    page.click("#confirm-ok")
    wait_for(lambda: "STOPPED" in row_a.text_content(), timeout=30, what="the row to reach STOPPED")
    ended(a, 30)
    assert not a.isActive and b.isActive
    assert page.get_by_role("button", name="Stop page-orders gracefully").is_disabled()
    assert api.query("page-orders")["stop"]["state"] == "STOPPED"

    # The dynamic configuration: add, edit (read back over HTTP), and lose a race in words.
    page.fill("#conf-key", "page.threshold")
    page.fill("#conf-value", "0.5")
    page.click("#conf-add button")
    conf_row = page.locator("#conf tbody tr", has_text="page.threshold")
    conf_row.wait_for()
    page.get_by_role("button", name="Edit page.threshold").click()
    page.get_by_label("New value of page.threshold").fill("0.75")
    page.keyboard.press("Enter")
    wait_for(lambda: api.get("/api/v1/conf/page.threshold").json()["value"] == "0.75", timeout=10)
    page.get_by_role("button", name="Edit page.threshold").click()
    api.request("PUT", "/api/v1/conf/page.threshold", data=b"0.9")  # someone else, first
    page.get_by_label("New value of page.threshold").fill("0.1")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("someone else", timeout=15000)
    assert api.get("/api/v1/conf/page.threshold").json()["value"] == "0.9", "the losing edit changed nothing"
    wait_for(lambda: "0.9" in conf_row.text_content(), timeout=10)

    # The audit trail shows the button's stop, latest first.
    expect(page.locator("#events")).to_contain_text("stop-finished", timeout=15000)
    first = page.locator("#events li").first.text_content()
    assert "conf" in first or "stop" in first
    _shot(page, "control-page-after.png")
    assert not errors, errors
    page.close()


@pytest.mark.tooling(
    "the control page's JavaScript over our HTTP API; the stops behind it run on every line elsewhere"
)
def test_the_page_pauses_resumes_and_restarts_a_managed_query_with_its_buttons(spark, api, browser):
    import stopstreaming

    def start(s: Any) -> Any:
        return start_noop(s, "page-managed", trigger={"processingTime": "1 minute"})

    managed = stopstreaming.manage(spark, "page-managed", start)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(f"sessionStorage.setItem('stopstreaming.token', '{TOKEN}')")
    page.goto(api.url + "/")
    row = page.locator("#managed tbody tr", has_text="page-managed")
    expect(row).to_contain_text("RUNNING", timeout=15000)
    assert page.get_by_role("button", name="Resume page-managed").is_disabled()

    # Escape says no, as for a stop.
    page.get_by_role("button", name="Pause page-managed").click()
    page.wait_for_selector("dialog[open]")
    assert "stays paused until resumed" in page.text_content("#confirm-text")
    page.keyboard.press("Escape")
    assert managed.state == "RUNNING"

    page.get_by_role("button", name="Pause page-managed").click()
    page.click("#confirm-ok")
    expect(row).to_contain_text("PAUSED", timeout=30000)
    assert managed.state == "PAUSED"
    assert page.get_by_role("button", name="Pause page-managed").is_disabled()
    _shot(page, "control-page-paused.png")

    page.get_by_role("button", name="Resume page-managed").click()
    page.click("#confirm-ok")
    expect(row).to_contain_text("RUNNING", timeout=30000)
    page.get_by_role("button", name="Restart page-managed").click()
    page.click("#confirm-ok")
    wait_for(
        lambda: managed.view()["runs"] == 3 and managed.state == "RUNNING", timeout=30, what="a third run"
    )
    expect(page.locator("#events")).to_contain_text("lifecycle", timeout=15000)
    events = api.get("/api/v1/events").json()["events"]
    moves = [e for e in events if e["kind"] == "lifecycle" and e["queryName"] == "page-managed"]
    assert {e["source"] for e in moves if e["options"]["state"] in ("PAUSING", "RESTARTING")} == {"rest"}
    managed.stop(wait=30)
    expect(row).to_contain_text("STOPPED", timeout=15000)
    for verb in ("Pause", "Resume", "Restart"):
        assert page.get_by_role("button", name=f"{verb} page-managed").is_disabled()
    assert not errors, errors
    page.close()


@pytest.mark.tooling(
    "the control page's JavaScript over our HTTP API; the stops behind it run on every line elsewhere"
)
def test_the_page_fits_a_phone_screen(spark, api, browser):
    q = start_noop(spark, "page-narrow", trigger={"processingTime": "1 minute"})
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.add_init_script(f"sessionStorage.setItem('stopstreaming.token', '{TOKEN}')")
    page.goto(api.url + "/")
    page.locator("#queries tbody tr", has_text="page-narrow").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 391, "no sideways scrolling"
    display = page.evaluate("getComputedStyle(document.querySelector('#queries tbody tr')).display")
    assert display == "block", "rows become cards on a narrow screen"
    _shot(page, "control-page-phone.png")
    page.close()


@pytest.mark.tooling(
    "the control page's JavaScript over our HTTP API; the stops behind it run on every line elsewhere"
)
def test_the_page_cannot_be_framed_and_loads_nothing_from_elsewhere(api):
    import requests

    r = requests.get(api.url + "/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "http" not in r.text.replace(api.url, ""), "no CDN or other origin in the page"
    assert requests.post(api.url + "/", timeout=10).status_code == 405
    assert (
        requests.get(api.url + "/ui/app.js", timeout=10).headers["Content-Type"].startswith("text/javascript")
    )
    # Serving the page loosens nothing: a foreign origin still cannot call the API.
    r = requests.post(
        api.url + "/api/v1/queries/x/stop", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert r.status_code == 403


def _ui_url(driver: Any) -> str:
    line = next(ln for ln in driver.output().splitlines() if ln.startswith("UI "))
    # Spark names the UI by the machine's address; it listens on every interface, so loopback works.
    port = line.rsplit(":", 1)[1].strip()
    return f"http://127.0.0.1:{port}"


def _ui_options(kill_enabled: bool) -> dict[str, Any]:
    return {"rest_port": 0, "rest_host": "127.0.0.1", "auth_token": TOKEN,
            "spark_conf": {"spark.ui.enabled": "true", "spark.ui.port": "0",
                           "spark.ui.killEnabled": str(kill_enabled).lower()}}  # fmt: skip


def test_the_spark_ui_tab_lists_queries_and_stops_one_when_kill_is_enabled(start_driver, browser):
    import requests

    d = start_driver(_ui_options(True), "ui-orders", "ui-payments")
    ui = _ui_url(d)
    r = requests.get(ui + "/stopstreaming/", timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert "Streaming Control" in r.text and "ui-orders" in r.text and "ui-payments" in r.text
    assert d.url + "/" in r.text, "the tab links to the control page"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(ui + "/stopstreaming/")
    assert page.locator("a", has_text="Streaming Control").count() >= 1, "the tab is in Spark's tab bar"
    _shot(page, "spark-ui-tab.png")
    # With a token configured, the tab's buttons need it: typed into the tab's token field.
    page.fill("#stopstreaming-token", TOKEN)
    page.locator("#stopstreaming-queries tr", has_text="ui-orders").get_by_role(
        "button", name="Stop gracefully"
    ).click()
    page.wait_for_load_state()
    wait_for(lambda: _stop_state(d.url, "ui-orders") == "STOPPED", timeout=30, what="ui-orders to stop")
    assert _stop_state(d.url, "ui-payments") is None
    auth = {"Authorization": f"Bearer {TOKEN}"}
    events = requests.get(d.url + "/api/v1/events", headers=auth, timeout=10)
    assert any(e["source"] == "spark-ui" and e["authenticated"] for e in events.json()["events"])
    # A form posted from another site is refused: no CSRF through Spark's UI.
    form = {"id": "ui-payments", "mode": "graceful"}
    evil = {"Origin": "https://evil.example"}
    r = requests.post(ui + "/stopstreaming/stop/", data=form, headers=evil, timeout=10, allow_redirects=False)
    assert r.status_code == 403
    assert _stop_state(d.url, "ui-payments") is None
    page.close()


def test_without_kill_enabled_the_tab_shows_no_stop_button_and_refuses_a_post(start_driver):
    import requests

    d = start_driver(_ui_options(False), "ui-readonly")
    ui = _ui_url(d)
    r = requests.get(ui + "/stopstreaming/", timeout=30)
    assert "ui-readonly" in r.text and "spark.ui.killEnabled=false" in r.text
    assert "Stop gracefully" not in r.text
    r = requests.post(ui + "/stopstreaming/stop/", data={"id": "ui-readonly", "mode": "graceful"}, timeout=10,
                      allow_redirects=False)  # fmt: skip
    assert r.status_code == 403
    assert _stop_state(d.url, "ui-readonly") is None


def test_the_spark_ui_tab_pauses_and_resumes_a_managed_query(start_driver, tmp_path):
    import requests

    d = start_driver({**_ui_options(True), "managed": str(tmp_path / "checkpoints")}, "ui-managed")
    ui, auth = _ui_url(d), {"Authorization": f"Bearer {TOKEN}"}
    r = requests.get(ui + "/stopstreaming/", timeout=30)
    assert "stopstreaming-managed" in r.text and "RUNNING" in r.text and 'value="pause ui-managed"' in r.text

    def state() -> str:
        return requests.get(d.url + "/api/v1/managed/ui-managed", headers=auth, timeout=10).json()["state"]

    refused = requests.post(ui + "/stopstreaming/stop/", data={"stop": "pause ui-managed"}, timeout=10,
                            allow_redirects=False)  # fmt: skip
    assert refused.status_code == 401 and state() == "RUNNING"
    form = {"stop": "pause ui-managed", "token": TOKEN}
    r = requests.post(ui + "/stopstreaming/stop/", data=form, timeout=10, allow_redirects=False)
    assert r.status_code in (302, 303), r.text[:300]
    wait_for(lambda: state() == "PAUSED", timeout=30, what="PAUSED")
    assert 'value="resume ui-managed"' in requests.get(ui + "/stopstreaming/", timeout=30).text
    form["stop"] = "resume ui-managed"
    requests.post(ui + "/stopstreaming/stop/", data=form, timeout=10, allow_redirects=False)
    wait_for(lambda: state() == "RUNNING", timeout=30, what="RUNNING again")
    events = requests.get(d.url + "/api/v1/events", headers=auth, timeout=10).json()["events"]
    assert any(e["kind"] == "lifecycle" and e["source"] == "spark-ui" and e["authenticated"] for e in events)


def _stop_state(url: str, name: str) -> str | None:
    import requests

    q = requests.get(
        f"{url}/api/v1/queries/{name}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    return (q.get("stop") or {}).get("state")
