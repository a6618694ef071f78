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
from browserdl.converter.source import NON_KERAS
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


THREADS = ("1", "all")  # one intra- and one inter-op thread (the page's JS), or every core
DEFAULT_CALLS = ("graph",)  # tf.function: what an expert times; `direct` is Python's eager path


@dataclass
class NativeOptions:
    runs: int = 50  # steady-state single-sample calls, as the TF.js benchmark page does
    batch: int = 32
    calls: tuple[str, ...] = DEFAULT_CALLS  # of native_worker.CALLS; a runtime with one call runs it
    threads: tuple[str, ...] = THREADS
    timeout_s: float = 600.0

    def calls_of(self, runtime: str) -> tuple[str, ...]:
        """The calls `runtime`'s worker times: those asked that it has, in its order, else its first."""
        own = RUNTIMES[runtime].calls
        return tuple(c for c in own if c in self.calls) or own[:1]


def settings_of(options: NativeOptions, call: str, threads: str) -> Settings:
    return settings(call=call, batch=options.batch, threads=threads)


def model_format(ws: Workspace, model: str, runtime: str) -> str | None:
    """What `runtime`'s worker loads for `model`: its format, or for TensorFlow and an added model
    without a model.h5 its SavedModel or TF.js graph (None: an ONNX file, TensorFlow can't)."""
    fmt = worker_format(runtime)
    if fmt != "keras-h5" or (ws.model_dir(model) / "model.h5").is_file():
        return fmt
    kind = _meta(ws, model).get("kind")
    return kind if kind in ("savedmodel", "tfjs-graph") else None


def _meta(ws: Workspace, model: str) -> dict[str, Any]:
    path = ws.model_dir(model) / "meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def keys(models: list[str], trials: int, options: NativeOptions, runtime: str = "native",
         formats: dict[str, str] | None = None) -> list[TrialKey]:
    """One key per model × threads × call × trial; one worker process times every call of a
    (model, threads, trial) (see runner). `formats`: a model's own (model_format), if not the
    runtime's."""
    return [TrialKey(m, (formats or {}).get(m, worker_format(runtime)), runtime, BACKEND, Kind.LOAD,
                     settings_of(options, call, threads), t, native_target(),
                     protocol.for_trial(Kind.LOAD, runtime))
            for m in models for threads in options.threads for t in range(trials)
            for call in options.calls_of(runtime)]


def model_file(ws: Workspace, key: TrialKey) -> Path:
    """keras-h5 is the trained file itself; other formats are read from their conversion."""
    if key.format == "keras-h5":
        return ws.model_dir(key.model) / "model.h5"
    if key.runtime == "native" and key.format in NON_KERAS:  # an added model's own copy
        return ws.model_dir(key.model) / NON_KERAS[key.format]
    return ws.formats / key.model / key.format / FORMATS[key.format].entry


Outcome = tuple[TrialResult, dict[str, Any]]


def runner(ws: Workspace, options: NativeOptions):  # -> sweep.Runner
    """Runs one worker per (model, runtime, threads, trial) for all of options' calls, in the
    worker's fixed order, and hands each call's result to its key (a rerun that needs one call
    runs them all again, so every call is always measured in the same company)."""
    pending: dict[tuple[str, str, str, int], dict[str, Outcome]] = {}

    def run(key: TrialKey) -> Outcome:
        process = (key.model, key.runtime, dict(key.settings)["threads"], key.trial)
        call = dict(key.settings)["call"]
        if call not in pending.get(process, {}):
            pending[process] = run_process(ws, key, options)
        return pending[process].pop(call)

    return run


def run_process(ws: Workspace, key: TrialKey, options: NativeOptions) -> dict[str, Outcome]:
    """One worker process: each of its calls' outcome."""
    runtime = RUNTIMES[key.runtime]
    calls = options.calls_of(key.runtime)
    path = model_file(ws, key)
    if not path.exists():
        missing = TrialResult(ok=False, error=f"{path} is missing: run `browserdl convert all-formats "
                                              f"--models {key.model} --formats {key.format}`")
        return {c: (missing, {}) for c in calls}
    meta = _meta(ws, key.model)
    batch = meta.get("batch") if meta.get("family") == "user" else options.batch  # as in the page
    command = [sys.executable, "-m", runtime.worker, str(path), "--runs", str(options.runs),
               "--batch", str(batch or options.batch), "--calls", ",".join(calls),
               "--threads", dict(key.settings)["threads"]]
    if shape := meta.get("input_shape"):
        command += ["--input-shape", ",".join(map(str, shape))]
    report, error, wall = run_worker(command, options.timeout_s)
    if report is None or not report["ok"]:
        failed = TrialResult(ok=False, error=error or report["error"], wall_s=wall)
        return {c: (failed, (report or {}).get("versions", {})) for c in calls}
    versions = report["versions"]
    shared = [Phase(p["name"], p["value"], p["unit"], p["samples"]) for p in report["phases"]]
    detail = {**versions, "cores": report["cores"], "calls_in_process": list(calls)}
    outcomes = {}
    for call in calls:
        got = report["calls"].get(call, {"phases": [], "error": f"{call}: not run", "not_applicable": False})
        phases = [Phase(p["name"], p["value"], p["unit"], p["samples"]) for p in got["phases"]]
        result = TrialResult(got["error"] is None, shared + phases, got["error"], wall,
                             detail={**detail, **({"not_applicable": True} if got["not_applicable"] else {})})
        outcomes[call] = (result, versions)
    return outcomes


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
