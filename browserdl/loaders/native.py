"""Native timing: each cold trial in a fresh Python process running TensorFlow on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from browserdl.reports.store import Phase, TrialKey, TrialResult
from browserdl.workspace import Workspace

FORMAT = "keras-h5"
RUNTIME = "native"
BACKEND = "cpu"


@dataclass
class NativeOptions:
    runs: int = 50  # steady-state single-sample calls, as the TF.js benchmark page does
    batch: int = 32
    call: str = "direct"  # model(x, training=False); `predict` costs ~tens of ms per call
    timeout_s: float = 600.0


def setting(options: NativeOptions) -> str:
    return f"call={options.call},batch={options.batch}"


def keys(models: list[str], trials: int, options: NativeOptions) -> list[TrialKey]:
    return [TrialKey(m, FORMAT, RUNTIME, BACKEND, setting(options), t)
            for m in models for t in range(trials)]


def runner(ws: Workspace, options: NativeOptions):  # -> sweep.Runner
    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        path = ws.model_dir(key.model) / "model.h5"
        command = [sys.executable, "-m", "browserdl.loaders.native_worker", str(path),
                   "--runs", str(options.runs), "--batch", str(options.batch),
                   "--call", options.call]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=options.timeout_s)
        except subprocess.TimeoutExpired:
            return TrialResult(ok=False, error=f"timed out after {options.timeout_s:.0f} s",
                               wall_s=time.perf_counter() - started), {}
        wall = time.perf_counter() - started
        report = _last_json_line(done.stdout)
        if report is None:
            tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            return TrialResult(ok=False, error=f"native worker died: {tail}", wall_s=wall), {}
        phases = [Phase(p["name"], p["value"], p["unit"], p["samples"]) for p in report["phases"]]
        versions = report.get("versions", {})
        return TrialResult(report["ok"], phases, report["error"], wall, detail=versions), versions

    return run


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None
