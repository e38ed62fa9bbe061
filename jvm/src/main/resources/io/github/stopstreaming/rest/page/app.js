// The control page: same-origin calls to the HTTP API, no framework, no build step.
"use strict";
(() => {
  const TOKEN_KEY = "stopstreaming.token";
  const SLOW_MS = 3000, FAST_MS = 1000;
  const $ = (id) => document.getElementById(id);
  const queryRows = new Map(), confRows = new Map(), managedRows = new Map();
  let lastSeq = 0, timer = null, editing = null;

  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

  async function api(method, path, body, headers) {
    const h = Object.assign({}, headers || {});
    if (token()) h.Authorization = "Bearer " + token();
    let r;
    try {
      r = await fetch(path, { method, headers: h, body, cache: "no-store", credentials: "omit" });
    } catch (e) {
      throw new Error("The driver cannot be reached (" + e.message + "). Is the application still running?");
    }
    let data = null;
    try { data = await r.json(); } catch (_) { /* an empty answer */ }
    if (!r.ok) {
      const err = new Error(explain(r.status, data));
      err.status = r.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  function explain(status, data) {
    const msg = data && data.error ? data.error : "HTTP " + status;
    if (status === 401) {
      return token() ? "The token was refused (" + msg + "). Check it and enter it again above."
                     : "This driver needs a token: enter it above (it stays in this tab only).";
    }
    return msg.charAt(0).toUpperCase() + msg.slice(1) + " (HTTP " + status + ")";
  }

  function say(text, kind) {
    const m = $("message");
    m.textContent = text || "";
    m.className = text ? (kind || "info") : "";
  }

  function cell(tr, label, cls) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function button(text, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  // A modal <dialog>: Escape or Cancel says no; focus starts on Cancel.
  function ask(text, okText) {
    const d = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okText;
    d.returnValue = "cancel";
    return new Promise((resolve) => {
      d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
      d.showModal();
      $("confirm-cancel").focus();
    });
  }

  const fmt = (x) => (x === null || x === undefined || Number.isNaN(x)) ? "–" : Number(x).toFixed(1);

  function age(ts) {
    if (!ts) return "–";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h ago";
  }

  function stopText(stop) {
    if (!stop) return "–";
    let t = stop.state + (stop.when ? " (when " + stop.when + ")" : "") + " · " + stop.mode + ", " + stop.source;
    if (stop.detail) t += " — " + stop.detail;
    return t;
  }

  function queryRow(q) {
    let r = queryRows.get(q.runId);
    if (!r) {
      const tr = document.createElement("tr");
      r = { tr };
      r.name = cell(tr, "Name");
      r.id = cell(tr, "Id", "id");
      r.state = cell(tr, "State");
      r.stop = cell(tr, "Stop");
      r.trigger = cell(tr, "Trigger");
      r.batch = cell(tr, "Last batch", "num");
      r.input = cell(tr, "Input rows/s", "num");
      r.processed = cell(tr, "Processed rows/s", "num");
      r.progress = cell(tr, "Last progress", "num");
      r.actions = cell(tr, "Actions", "actions");
      r.graceful = button("Stop gracefully", "", () => stop(r.q, "graceful"));
      r.now = button("Stop now", "danger", () => stop(r.q, "immediate"));
      r.actions.append(r.graceful, r.now);
      queryRows.set(q.runId, r);
    }
    r.q = q;
    const name = q.name || "(unnamed)";
    const stopState = q.stop ? q.stop.state : null;
    const done = ["STOPPED", "ESCALATED", "FAILED"].includes(stopState);
    const state = q.active ? "running" : (q.exception ? "failed" : "ended");
    r.name.textContent = name;
    r.id.textContent = q.id.slice(0, 8);
    r.id.title = q.id;
    r.state.textContent = state;
    r.state.className = "state " + state;
    r.stop.textContent = stopText(q.stop);
    r.stop.className = stopState ? "state " + stopState : "";
    r.trigger.textContent = q.active && q.status ? q.status.message : (q.exception || "–");
    const p = q.lastProgress || {};
    r.batch.textContent = p.batchId === undefined ? "–" : String(p.batchId);
    r.input.textContent = fmt(p.inputRowsPerSecond);
    r.processed.textContent = fmt(p.processedRowsPerSecond);
    r.progress.textContent = age(p.timestamp);
    r.graceful.disabled = !q.active || (stopState !== null && stopState !== "PENDING");
    r.now.disabled = !q.active || done;
    r.graceful.setAttribute("aria-label", "Stop " + name + " gracefully");
    r.now.setAttribute("aria-label", "Stop " + name + " now");
    return r;
  }

  async function stop(q, mode) {
    const name = q.name || q.id;
    const text = mode === "graceful"
      ? "Stop query '" + name + "' gracefully? The batch in flight finishes and commits first."
      : "Stop query '" + name + "' now? The batch in flight is cut and runs again after a restart.";
    if (!(await ask(text, mode === "graceful" ? "Stop gracefully" : "Stop now"))) return;
    try {
      const r = await api("POST", "/api/v1/queries/" + encodeURIComponent(q.id) + "/stop?mode=" + mode);
      say("Stop of '" + name + "' requested: " + (r.stop ? r.stop.state : "done") + ".", "info");
      queryRow(r);
      schedule(FAST_MS);
    } catch (e) {
      say("Could not stop '" + name + "': " + e.message, "error");
    }
  }

  // What each lifecycle button asks before it acts, and the state it may be pressed in.
  const LIFECYCLE = {
    pause: { label: "Pause", when: ["RUNNING", "RESTARTING"],
             ask: (n) => "Pause '" + n + "'? The batch in flight finishes and commits; the query then stays paused until resumed." },
    resume: { label: "Resume", when: ["PAUSED", "PAUSING", "BACKOFF"],
              ask: (n) => "Resume '" + n + "'? It starts again from its checkpoint." },
    restart: { label: "Restart", when: ["RUNNING", "PAUSED", "BACKOFF"],
               ask: (n) => "Restart '" + n + "'? The batch in flight finishes and commits, then the query starts again." },
  };

  function managedRow(m) {
    let r = managedRows.get(m.name);
    if (!r) {
      const tr = document.createElement("tr");
      r = { tr, buttons: {} };
      r.name = cell(tr, "Name");
      r.name.textContent = m.name;
      r.state = cell(tr, "State");
      r.runs = cell(tr, "Runs", "num");
      r.failures = cell(tr, "Failures", "num");
      r.since = cell(tr, "Since", "num");
      r.detail = cell(tr, "Detail");
      r.actions = cell(tr, "Actions", "actions");
      for (const verb of Object.keys(LIFECYCLE)) {
        const b = button(LIFECYCLE[verb].label, verb === "pause" ? "danger" : "", () => lifecycle(r.m, verb));
        b.setAttribute("aria-label", LIFECYCLE[verb].label + " " + m.name);
        r.buttons[verb] = b;
        r.actions.append(b);
      }
      managedRows.set(m.name, r);
    }
    r.m = m;
    r.state.textContent = m.state;
    r.state.className = "state " + m.state;
    r.runs.textContent = String(m.runs);
    r.failures.textContent = String(m.failures);
    r.since.textContent = age(m.since);
    r.detail.textContent = m.state === "BACKOFF" && m.nextAttemptAt
      ? "next attempt " + new Date(m.nextAttemptAt).toLocaleTimeString() + (m.lastError ? " — " + m.lastError.split("\n")[0] : "")
      : (m.lastError && m.state === "FAILED" ? m.lastError.split("\n")[0] : (m.pausePersisted ? "pause kept across driver restarts" : "–"));
    for (const verb of Object.keys(LIFECYCLE)) r.buttons[verb].disabled = !LIFECYCLE[verb].when.includes(m.state);
    return r;
  }

  async function lifecycle(m, verb) {
    if (!(await ask(LIFECYCLE[verb].ask(m.name), LIFECYCLE[verb].label))) return;
    try {
      const r = await api("POST", "/api/v1/queries/" + encodeURIComponent(m.name) + "/" + verb);
      say(LIFECYCLE[verb].label + " of '" + m.name + "' asked: it is " + r.state + ".", "info");
      managedRow(r);
      schedule(FAST_MS);
    } catch (e) {
      say("Could not " + verb + " '" + m.name + "': " + e.message, "error");
    }
  }

  function confRow(key, entry) {
    let r = confRows.get(key);
    if (!r) {
      const tr = document.createElement("tr");
      r = { tr, key };
      const k = cell(tr, "Key");
      k.textContent = key;
      r.value = cell(tr, "Value");
      r.version = cell(tr, "Version", "num");
      r.actions = cell(tr, "Actions", "actions");
      r.edit = button("Edit", "", () => edit(r));
      r.del = button("Delete", "danger", () => remove(r));
      r.actions.append(r.edit, r.del);
      r.edit.setAttribute("aria-label", "Edit " + key);
      r.del.setAttribute("aria-label", "Delete " + key);
      confRows.set(key, r);
    }
    r.entry = entry;
    if (editing !== r) r.value.textContent = entry.value;
    r.version.textContent = String(entry.version);
    return r;
  }

  function edit(r) {
    if (editing) return;
    editing = r;
    const input = document.createElement("input");
    input.value = r.entry.value;
    input.setAttribute("aria-label", "New value of " + r.key);
    const save = button("Save", "", () => saveEdit(r, input.value));
    const cancel = button("Cancel", "", () => { editing = null; r.value.textContent = r.entry.value; r.actions.replaceChildren(r.edit, r.del); r.edit.focus(); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") save.click();
      if (e.key === "Escape") cancel.click();
    });
    r.value.replaceChildren(input);
    r.actions.replaceChildren(save, cancel);
    input.focus();
  }

  async function saveEdit(r, value) {
    const version = r.entry.version;
    try {
      await api("PUT", "/api/v1/conf/" + encodeURIComponent(r.key), value, { "If-Match": String(version) });
      say("'" + r.key + "' is now '" + value + "'.", "info");
    } catch (e) {
      say(e.status === 412
        ? "'" + r.key + "' was changed by someone else first (you edited version " + version + "). Your value was not saved; the table now shows the current one."
        : "Could not save '" + r.key + "': " + e.message, "error");
    }
    editing = null;
    r.actions.replaceChildren(r.edit, r.del);
    await refresh();
    r.edit.focus();
  }

  async function remove(r) {
    if (!(await ask("Delete the dynamic value '" + r.key + "'?", "Delete"))) return;
    try {
      await api("DELETE", "/api/v1/conf/" + encodeURIComponent(r.key), null, { "If-Match": String(r.entry.version) });
      say("'" + r.key + "' deleted.", "info");
    } catch (e) {
      say(e.status === 412 ? "'" + r.key + "' was changed by someone else first; nothing was deleted." : "Could not delete '" + r.key + "': " + e.message, "error");
    }
    await refresh();
  }

  async function add(ev) {
    ev.preventDefault();
    const key = $("conf-key").value.trim(), value = $("conf-value").value;
    try {
      await api("PUT", "/api/v1/conf/" + encodeURIComponent(key), value, { "If-Match": "0" });
      say("'" + key + "' added.", "info");
      $("conf-key").value = "";
      $("conf-value").value = "";
    } catch (e) {
      say(e.status === 412 ? "'" + key + "' already exists: edit it in the table." : "Could not add '" + key + "': " + e.message, "error");
    }
    await refresh();
  }

  function eventLine(e) {
    const li = document.createElement("li");
    const what = e.queryName || e.queryId || (e.options && e.options.key) || "–";
    const took = e.durationMs !== null && e.durationMs !== undefined ? " in " + e.durationMs + " ms" : "";
    li.textContent = new Date(e.time).toLocaleTimeString() + "  " + e.kind + "  " + what + ": " + e.outcome + took +
      " (" + e.source + (e.client ? " from " + e.client : "") + ")";
    return li;
  }

  // Puts `rows` ([key, row], in order) into `tbody`, moving only the rows that moved, and drops the rows of keys gone.
  function syncRows(tbody, map, rows) {
    const keys = new Set();
    rows.forEach(([k, r], i) => {
      keys.add(k);
      if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
    });
    for (const [k, r] of map) if (!keys.has(k)) { r.tr.remove(); map.delete(k); }
  }

  async function refresh() {
    try {
      const [qs, conf, ev, managed] = await Promise.all([
        api("GET", "/api/v1/queries"),
        api("GET", "/api/v1/conf"),
        api("GET", "/api/v1/events?since=" + lastSeq),
        api("GET", "/api/v1/managed"),
      ]);
      syncRows($("managed").tBodies[0], managedRows, managed.managed.map((m) => [m.name, managedRow(m)]));
      $("no-managed").hidden = managed.managed.length > 0;
      syncRows($("queries").tBodies[0], queryRows, qs.queries.map((q) => [q.runId, queryRow(q)]));
      $("no-queries").hidden = qs.queries.length > 0;
      const keys = Object.keys(conf.entries).sort();
      syncRows($("conf").tBodies[0], confRows, keys.map((k) => [k, confRow(k, conf.entries[k])]));
      $("conf-version").textContent = "(version " + conf.version + ")";
      const list = $("events");
      for (const e of ev.events) {
        list.insertBefore(eventLine(e), list.firstChild);
        lastSeq = Math.max(lastSeq, e.seq);
      }
      while (list.children.length > 100) list.lastChild.remove();
      $("refreshed").textContent = "(refreshed " + new Date().toLocaleTimeString() + ")";
      if ($("message").className === "error" && /reached|token/.test($("message").textContent)) say("");
      const stopping = qs.queries.some((q) => q.active && q.stop && q.stop.state !== "PENDING") ||
        managed.managed.some((m) => ["PAUSING", "RESTARTING", "BACKOFF"].includes(m.state));
      schedule(stopping ? FAST_MS : SLOW_MS);
    } catch (e) {
      say(e.message, "error");
      schedule(SLOW_MS);
    }
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token").value = token();
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      say("Token set for this tab.", "info");
      refresh();
    });
    $("token-forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      say("Token forgotten.", "info");
      refresh();
    });
    $("conf-add").addEventListener("submit", add);
    fetch("/api/v1/health", { cache: "no-store" }).then((r) => r.json())
      .then((h) => { $("version").textContent = h.version; }).catch(() => {});
    refresh();
  });
})();
