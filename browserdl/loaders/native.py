"""Native timing: each cold trial in a fresh Python process, on the CPU: TensorFlow on model.h5
(`native`) or onnxruntime on the onnx format's model.onnx (`ort-native`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browserdl.converter import FORMATS
from browserdl.loaders import protocol
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.targets import native_target
from browserdl.results.records import Kind, Phase, Settings, TrialKey, TrialResult, settings
from browserdl.workspace import Workspace

BACKEND = "cpu"


def worker_format(runtime: str) -> str:
    """The one format a native runtime's worker loads (its record in loaders/runtimes.py)."""
    (fmt,) = RUNTIMES[runtime].formats
    return fmt


@dataclass
class NativeOptions:
    runs: int = 50  # steady-state single-sample calls, as the TF.js benchmark page does
    batch: int = 32
    call: str = "direct"  # model(x, training=False); `predict` costs ~tens of ms per call
    timeout_s: float = 600.0


def settings_of(options: NativeOptions, runtime: str = "native") -> Settings:
    call = options.call if RUNTIMES[runtime].calls else "run"
    return settings(call=call, batch=options.batch)


def keys(models: list[str], trials: int, options: NativeOptions, runtime: str = "native") -> list[TrialKey]:
    return [TrialKey(m, worker_format(runtime), runtime, BACKEND, Kind.LOAD,
                     settings_of(options, runtime), t, native_target(),
                     protocol.for_trial(Kind.LOAD, runtime))
            for m in models for t in range(trials)]


def model_file(ws: Workspace, key: TrialKey) -> Path:
    """keras-h5 is the trained file itself; other formats are read from their conversion."""
    if key.format == "keras-h5":
        return ws.model_dir(key.model) / "model.h5"
    return ws.formats / key.model / key.format / FORMATS[key.format].entry


def runner(ws: Workspace, options: NativeOptions):  # -> sweep.Runner
    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        runtime = RUNTIMES[key.runtime]
        path = model_file(ws, key)
        if not path.is_file():
            return TrialResult(ok=False, error=f"{path} is missing: run `browserdl convert all-formats "
                                                f"--models {key.model} --formats {key.format}`"), {}
        command = [sys.executable, "-m", runtime.worker, str(path),
                   "--runs", str(options.runs), "--batch", str(options.batch)]
        if runtime.calls:
            command += ["--call", options.call]
        report, error, wall = run_worker(command, options.timeout_s)
        if report is None:
            return TrialResult(ok=False, error=error, wall_s=wall), {}
        phases = [Phase(p["name"], p["value"], p["unit"], p["samples"]) for p in report["phases"]]
        versions = report.get("versions", {})
        return TrialResult(report["ok"], phases, report["error"], wall, detail=versions), versions

    return run


def run_worker(command: list[str], timeout_s: float) -> tuple[dict[str, Any] | None, str, float]:
    """Run a worker process: (its JSON report or None, why there is none, wall seconds)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s:.0f} s", time.perf_counter() - started
    wall = time.perf_counter() - started
    report = last_json_line(done.stdout)
    if report is None:
        tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return None, f"native worker died: {tail}", wall
    return report, "", wall


def last_json_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None
