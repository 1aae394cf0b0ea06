"""Cold-start cost of the Lambda entrypoint: median over fresh processes (goal < 300 ms)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
from typing import Any

RUNS = 7
GOAL_MS = 300.0

#: name -> (code run in a fresh interpreter, note, goal in ms or None for information only).
SNIPPETS: dict[str, tuple[str, str, float | None]] = {
    "import lambda_entry": (
        "import meshkit.runtime.lambda_entry",
        "the entrypoint alone; the group's router is imported on the first call",
        GOAL_MS,
    ),
    "import lambda_entry + boto3": (
        "import meshkit.runtime.lambda_entry, boto3",
        "the goal row: entrypoint plus the AWS SDK every function needs",
        GOAL_MS,
    ),
    "import lambda_entry + router + boto3": (
        "import meshkit.runtime.lambda_entry, meshkit.runtime.router, boto3",
        "adds pydantic and the event base classes, as the first invocation does",
        None,
    ),
    "first event resolved (cold)": (
        textwrap.dedent(
            """
            import meshkit.runtime.lambda_entry
            from meshkit.events.access import AccessDecided
            from meshkit.events.envelope import delivered_envelope
            from meshkit.runtime.config import MeshConfig
            from meshkit.runtime.router import EventRouter, Runtime
            import boto3

            class Clients:
                def client(self, service, account=None):
                    raise AssertionError("no AWS call expected")

            router = EventRouter("bench.group")

            @router.on(AccessDecided)
            def on_decided(event, ctx):
                return None

            config = MeshConfig(mesh_name="b", role="central", account_id="111111111111",
                                region="us-east-1", central_account="111111111111", bus="b")
            event = AccessDecided(request_id="req-00000001", approved=True, decided_by="x")
            router.resolve(delivered_envelope(event, account="222222222222"), None,
                           runtime=Runtime.for_config(config, Clients()))
            """
        ),
        "imports, builds one model's validator, routes one event (no AWS call)",
        None,
    ),
}

_HARNESS = (
    "import time\n_t = time.perf_counter()\n{code}\nprint((time.perf_counter() - _t) * 1000)\n"
)


def measure(code: str, runs: int = RUNS) -> list[float]:
    """Milliseconds ``code`` takes in each of ``runs`` fresh interpreters (after one warm-up
    run that writes the bytecode caches, as a deployed package would ship them)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    script = _HARNESS.format(code=code)
    timings = []
    for index in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        ).stdout
        if index:
            timings.append(float(out.strip().splitlines()[-1]))
    return timings


def run() -> list[dict[str, Any]]:
    rows = []
    load = os.getloadavg()[0]
    for name, (code, note, goal) in SNIPPETS.items():
        timings = measure(code)
        median = statistics.median(timings)
        row: dict[str, Any] = {
            "name": name,
            "value": round(median, 1),
            "unit": "ms",
            "goal": "" if goal is None else f"< {goal:.0f} ms",
            "note": f"{note}; median of {RUNS} (min {min(timings):.0f}, max "
            f"{max(timings):.0f}), load average {load:.1f}",
        }
        if goal is not None:
            row["ok"] = median < goal
        rows.append(row)
    return rows
