"""Training: time per batch, loss and CPU use in every library that trains, and natively.

Every runtime gets the same batches of the model's training digits (or text windows), the
same starting weights (its converted file), plain SGD at the same learning rate and the same
protocol: the probe's loss, one warm-up batch, N timed batches, the probe's loss again. How a
library applies a batch (mean gradient, per-sample updates, summed full batch) is recorded
with every trial. The probe is the first `probe` samples, all of them trained on.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.loaders import protocol
from browserdl.loaders.browser_runner import NOT_APPLICABLE, library_version
from browserdl.loaders.native import THREADS, run_worker
from browserdl.loaders.runtimes import NO_TRAINING, RUNTIMES
from browserdl.loaders.targets import renderer_of
from browserdl.models import data
from browserdl.results.records import Kind, Phase, Settings, Target, TrialKey, TrialResult, settings
from browserdl.results.store import Store
from browserdl.workspace import Workspace

BATCH_SIZE = 64  # the paper's §4.1
LOSSES = ("categorical_crossentropy", "mean_squared_error")  # the losses every trainer here maps
DEFAULT_BATCHES = 30
DEFAULT_LEARNING_RATE = 1e-3  # per-sample updaters (brain.js, synaptic) diverge at 1e-2 on MNIST
PROBE = 256
CPU_WINDOW_MS = 250.0  # CPU utilisation is read per window of at least this long


@dataclass
class TrainingOptions:
    batches: int = DEFAULT_BATCHES
    learning_rate: float = DEFAULT_LEARNING_RATE
    timeout_s: float = 600.0
    native_threads: tuple[str, ...] = THREADS  # native TensorFlow's thread counts (loaders/native.py)
    wasm_threads: int = 1  # pinned in the page alike on every engine


def probe_size(options: TrainingOptions) -> int:
    """The probe: the first samples trained on, never more than the run trains."""
    return min(PROBE, (options.batches + 1) * BATCH_SIZE)


def settings_of(options: TrainingOptions, threads: str | None = None) -> Settings:
    """A browser trial's settings; a native one's also say its thread count."""
    return settings(optimizer="sgd", lr=f"{options.learning_rate:g}", batch=BATCH_SIZE,
                    batches=options.batches, **({"threads": threads} if threads else {}))


def _wasm(options: TrainingOptions) -> str | None:
    """A browser trial's thread setting: absent at the default 1."""
    return None if options.wasm_threads == 1 else str(options.wasm_threads)


@dataclass(frozen=True)
class Batches:
    x: Path
    y: Path
    shape: tuple[int, ...]  # the model's input shape, batch first
    loss: str  # the Keras loss the model was trained with


def batches(ws: Workspace, model: str, count: int) -> Batches:
    """The warm-up batch and `count` more from the model's training split, in its fixed order,
    written once per task and count under the workspace cache."""
    meta = json.loads((ws.model_dir(model) / "meta.json").read_text())
    samples = (count + 1) * BATCH_SIZE
    task = meta["task"] if meta["task"] != "user" else f"user-{model}"
    folder = ws.cache / "training" / f"{task}-{samples}"
    x_path, y_path = folder / "x.bin", folder / "y.bin"
    if not (x_path.is_file() and y_path.is_file()):
        x, y = (_added_data(ws, model, meta) if meta["task"] == "user" else
                data.split(meta["task"], data.load_task(meta["task"], ws.cache))[:2])
        folder.mkdir(parents=True, exist_ok=True)
        reps = -(-samples // len(x))  # a small training split repeats
        np.concatenate([x] * reps)[:samples].astype("<f4").tofile(x_path)
        np.concatenate([y] * reps)[:samples].astype("<f4").tofile(y_path)
    loss = meta.get("loss", "categorical_crossentropy")
    return Batches(x_path, y_path, (samples, *meta["input_shape"]), loss)


def _added_data(ws: Workspace, model: str, meta: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """An added model's labelled data, else seeded random inputs and targets: the time a step
    takes does not depend on the values (the report says which)."""
    folder = ws.model_dir(model) / "data"
    if (folder / "y.npy").is_file():
        return np.load(folder / "x.npy"), np.load(folder / "y.npy")
    rng = np.random.default_rng(0)
    x = rng.random((BATCH_SIZE, *meta["input_shape"]), dtype=np.float32)
    outputs = int(np.prod(meta["output_shape"]))
    if meta.get("loss") == "categorical_crossentropy":
        return x, np.eye(outputs, dtype=np.float32)[rng.integers(0, outputs, BATCH_SIZE)]
    return x, rng.random((BATCH_SIZE, outputs), dtype=np.float32)


def trainable_runtimes() -> list[str]:
    return [name for name, r in RUNTIMES.items() if r.trains]


def plan(ws: Workspace, store: Store, models: list[str], runtimes: list[str],
         backends: list[str] | None, libraries: dict[str, Any]) -> tuple[list[tuple], list[str]]:
    """(model, format, runtime, backend) to train, and each pair left out with its reason."""
    conversions = {(c["model"], c["format"]): c for c in store.conversions()}
    combos, not_applicable = [], []
    for model in models:
        task = json.loads((ws.model_dir(model) / "meta.json").read_text())["task"]
        for name in runtimes:
            runtime = RUNTIMES[name]
            fmt = runtime.trains
            if not fmt:
                not_applicable.append(f"{model} {name}: {NO_TRAINING}")
                continue
            if task == "imagenet":
                not_applicable.append(f"{model} {name}: the Keras applications are not trained here")
                continue
            if task == "user" and (why := _untrainable(ws, model)):
                not_applicable.append(f"{model} {name}: {why}")
                continue
            if missing := runtime.missing_library(libraries):
                not_applicable.append(f"{model} {name}: {missing}")
                continue
            folder = ws.formats / model / fmt
            if name != "native" and not (folder / "manifest.json").is_file():
                row = conversions.get((model, fmt))
                reason = (row["reason"] if row and row["status"] == "n/a" and row["reason"]
                          else f"no {fmt} file (run `browserdl convert all-formats --models {model}`)")
                not_applicable.append(f"{model} {name}: {reason}")
                continue
            for backend in runtime.backends:
                if backends is None or backend in backends:
                    combos.append((model, fmt, name, backend))
    return combos, not_applicable


def _untrainable(ws: Workspace, model: str) -> str:
    """Why an added model can't be trained here ("" when it can)."""
    meta = json.loads((ws.model_dir(model) / "meta.json").read_text())
    if meta.get("kind") != "keras":
        return f"an added {meta.get('kind')} model: training needs its Keras layers"
    if meta.get("loss") not in LOSSES:
        return (f"its loss is {meta.get('loss') or 'not saved (saved without compile)'}; "
                f"training runs {' or '.join(LOSSES)}")
    return ""


def keys(combos: list[tuple], trials: int, options: TrainingOptions, target: Target,
         libraries: dict[str, Any]) -> list[TrialKey]:
    """The trials of `combos` on `target` (the browser, or this machine for native, once per
    thread count)."""
    return [TrialKey(m, f, r, b, Kind.TRAIN, settings_of(options, threads), t, target,
                     protocol.for_trial(Kind.TRAIN, r, libraries))
            for m, f, r, b in combos
            for threads in (options.native_threads if RUNTIMES[r].native else (_wasm(options),))
            for t in range(trials)]


def browser_runner(ws: Workspace, session: Any, options: TrainingOptions,
                   libraries: dict[str, Any]):  # -> sweep.Runner
    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        feed = batches(ws, key.model, options.batches)
        env: dict[str, Any] = {**session.describe(),
                               "runtime_library": library_version(RUNTIMES[key.runtime], libraries)}
        request = {"adapter": key.runtime, "backend": key.backend,
                   "formatUrl": session.url(ws.formats / key.model / key.format),
                   "inputUrl": session.url(feed.x), "labelsUrl": session.url(feed.y),
                   "shape": list(feed.shape), "batchSize": BATCH_SIZE, "batches": options.batches,
                   "probe": probe_size(options), "learningRate": options.learning_rate, "loss": feed.loss,
                   "threads": options.wasm_threads}
        if reason := session.lacks(key.backend):
            return TrialResult(False, error=reason, detail={"not_applicable": True}), env
        started = time.perf_counter()
        try:
            got = session.train(request, options.timeout_s, CPU_WINDOW_MS)
        except RuntimeError as exc:
            wall = time.perf_counter() - started
            reason = str(exc)
            if reason.startswith(NOT_APPLICABLE):  # an adapter's word: the library can't do this
                return TrialResult(False, error=reason.removeprefix(NOT_APPLICABLE), wall_s=wall,
                                   detail={"not_applicable": True}), env
            return TrialResult(False, error=reason, wall_s=wall), env
        got["env"]["renderer"] = renderer_of(session.spec, got["env"]["renderer"])
        env.update(renderer=got["env"]["renderer"], user_agent=got["env"]["userAgent"])
        got["detail"] = {"renderer": got["env"]["renderer"], "threads": got["threads"]}
        return result(key, got, options, time.perf_counter() - started), env

    return run


def native_runner(ws: Workspace, options: TrainingOptions):  # -> sweep.Runner
    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        feed = batches(ws, key.model, options.batches)
        command = [sys.executable, "-m", "browserdl.loaders.native_train_worker",
                   str(ws.model_dir(key.model) / "model.h5"), str(feed.x), str(feed.y),
                   "--batches", str(options.batches), "--batch-size", str(BATCH_SIZE),
                   "--probe", str(probe_size(options)), "--lr", repr(options.learning_rate),
                   "--loss", feed.loss,
                   "--window-ms", str(CPU_WINDOW_MS), "--threads", dict(key.settings)["threads"]]
        got, error, wall = run_worker(command, options.timeout_s)
        if got is None:
            return TrialResult(False, error=error, wall_s=wall), {}
        if "error" in got:
            return TrialResult(False, error=got["error"], wall_s=wall), {}
        got["detail"] = {**got["versions"], "train_step": got["train_step"]}
        return result(key, got, options, wall), got["versions"]

    return run


def result(key: TrialKey, got: dict[str, Any], options: TrainingOptions, wall: float) -> TrialResult:
    """A trial from what the page or the native worker returned (the same shape from both)."""
    times, losses, cpu = got["times"], got["losses"], got["cpu_windows"]
    phases = [Phase(name, value) for name, value in got["phases"].items()]
    phases += [Phase("train_batch", float(np.mean(times)), "ms", times),
               Phase("train_loss", losses[-1], "loss", losses),
               Phase("loss_before", got["lossBefore"], "loss"),
               Phase("loss_after", got["lossAfter"], "loss")]
    if cpu:  # a remote engine without CDP tells no CPU time
        phases.append(Phase("cpu_train", float(np.mean(cpu)), "%", cpu))
    # a diverged run's NaN losses: the store keeps numbers only (the error says what happened)
    phases = [Phase(p.name, p.value, p.unit, [v if math.isfinite(v) else None for v in p.samples]
                    if p.samples else p.samples) for p in phases if math.isfinite(p.value)]
    if got.get("js_heap_bytes") is not None:
        phases.append(Phase("js_heap", got["js_heap_bytes"], "bytes"))
    if got.get("peak_rss_bytes") is not None:
        phases.append(Phase("peak_rss", got["peak_rss_bytes"], "bytes"))
    detail = {**got.get("detail", {}), "backend_used": got["backend"], "objective": got["objective"],
              "updates": got["updates"], "warmup_loss": got["warmupLoss"]}
    before, after = got["lossBefore"], got["lossAfter"]
    error = None
    if got["backend"] != key.backend:
        error = f"asked for backend {key.backend}, {key.runtime} ran {got['backend']}"
    elif not all(math.isfinite(v) for v in (before, after, *losses)):
        error = (f"training diverged: the loss became {after} at learning rate "
                 f"{options.learning_rate:g} (try a smaller --lr)")
    elif after == before:
        error = f"training changed nothing: the probe's loss stayed {before:.6g}"
    return TrialResult(error is None, phases, error, wall, detail)

