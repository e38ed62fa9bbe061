"""Port readiness of the 0.x API's REST config: call to listening port and to answered POST, each
sample in a fresh driver on a loaded machine, the early bind against the previous order, alternated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import requests
from harness import RUN_PY, session, stage, wait_until
from stats import dist


def port_ready_child(way: str) -> None:
    """Run in a fresh driver (no plugin, so the first call starts the control plane, as with the
    0.x library): call the 0.x API's REST attach on a free port, from a thread as the 0.x tests do
    from a Future, and time until the port accepts a connection and until a POST is answered.
    `previous` starts the control plane first, then binds the port (the order before this change).
    The machine is loaded meanwhile: two busy processes, one per core, plus the running query."""
    import socket

    spark = session(plugin=False, jar_only=True)
    q = spark.readStream.format("rate").load().writeStream.format("noop").start()
    wait_until(lambda: q.lastProgress is not None, 120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jvm, jspark, jsq = spark._jvm, spark._jsparkSession, q._jsq
    pkg = jvm.io.github.stopstreaming

    # The JVM method is looked up before the clock starts (Py4J resolves a name in several round
    # trips, 20-40 ms on the loaded machine): the figure is the call's, as a JVM caller sees it.
    attach_rest, runtime_for = pkg.plugin.SessionAttach.attachRest, pkg.plugin.SessionAttach.runtimeFor

    def attach() -> None:
        if way == "early":  # what awaitExternalTermination(RestStopConfig(port)) runs
            attach_rest(jspark, jsq, "0.0.0.0", port, "/stop", "0.0.0.0")
        else:
            rt = runtime_for(jspark)
            rt.attachRest(rt.plane().register(jsq), "0.0.0.0", port, "/stop", "0.0.0.0")

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.3)
        t0 = time.perf_counter()
        threading.Thread(target=attach, daemon=True).start()
        while True:
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.0005)
        listening = (time.perf_counter() - t0) * 1000
        r = requests.post(f"http://127.0.0.1:{port}/stop/{q.id}", timeout=60)
        answered = (time.perf_counter() - t0) * 1000
    finally:
        for b in busy:
            b.kill()
    q.awaitTermination()
    figures = {"listening_ms": round(listening, 2), "answered_ms": round(answered, 2)}
    figures["status"] = r.status_code
    print(json.dumps(figures))
    spark.stop()


def port_ready_figures(out: dict, samples: int = 7) -> None:
    """Call to listening port of the 0.x API's REST config, each sample in a fresh loaded driver."""
    runs: dict[str, list[dict]] = {"early": [], "previous": []}
    for i in range(samples):
        for way in runs:  # alternated, so drift on the machine hits both ways alike
            stage(f"port readiness: {way} ({i + 1}/{samples})")
            child = subprocess.run([sys.executable, str(RUN_PY), "--port-ready", way],
                                   capture_output=True, text=True, check=True)  # fmt: skip
            runs[way].append(json.loads(child.stdout.strip().splitlines()[-1]))
    fig = {}
    for way, rs in runs.items():
        fig[way] = {
            "listening_ms": dist([r["listening_ms"] for r in rs], 50, 90),
            "answered_ms": dist([r["answered_ms"] for r in rs], 50, 90),
            "statuses": sorted({r["status"] for r in rs}),
        }
    fig["listening_ratio_previous_to_early"] = round(
        fig["previous"]["listening_ms"]["p50"] / max(fig["early"]["listening_ms"]["p50"], 0.01), 1
    )
    out["port_ready"] = fig
