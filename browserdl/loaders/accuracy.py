"""`measure accuracy`: each converted model's accuracy on the test digits, computed by its own
library (Node, Chromium or TensorFlow, as its parity check runs): what a quantized encoding's
smaller file costs. Stored as one trial per (model, format) of kind accuracy."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter import FORMATS
from browserdl.loaders import parity, protocol
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.targets import native_target
from browserdl.models import data
from browserdl.results.records import Kind, Phase, Target, TrialKey, TrialResult, settings
from browserdl.workspace import Workspace

TASKS = ("digits-flat", "digits-image")


def test_digits(ws: Workspace, task: str, model: str = "") -> tuple[parity.Reference, np.ndarray]:
    """The held-out digits as the task's input layer wants them (an added model: the user's
    labelled data), written once under the workspace cache for the runtimes to read, and their
    labels."""
    if task == "user":
        folder = ws.model_dir(model) / "data"
        x, y = np.load(folder / "x.npy").astype(np.float32), np.load(folder / "y.npy")
        task = f"user-{model}-{hashlib.sha256(x.tobytes()).hexdigest()[:12]}"  # new data, new file
    else:
        _, _, x, y = data.split(task, data.load_digits(cache_dir=ws.cache))
    path = ws.cache / "accuracy" / f"{task}-{len(x)}.bin"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        x.astype("<f4").tofile(path)
    return parity.Reference(path, x, np.empty(0)), y.argmax(1)


def plan(ws: Workspace, models: list[str], formats: list[str] | None,
         libraries: dict[str, Path]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (model, format) pairs to run, and what was left out and why."""
    combos, skipped = [], []
    for model in models:
        task = json.loads((ws.model_dir(model) / "meta.json").read_text())["task"]
        if task == "user" and not (ws.model_dir(model) / "data" / "y.npy").is_file():
            skipped.append(f"{model}: no labelled data (add it with `browserdl add PATH --id "
                           f"{model} --data X.npy,Y.npy --force`)")
            continue
        if task not in (*TASKS, "user"):
            skipped.append(f"{model}: accuracy is measured on the MNIST test digits only")
            continue
        for folder in sorted((ws.formats / model).glob("*/manifest.json")):
            fmt = FORMATS.get(folder.parent.name)
            if fmt is None or (formats is not None and fmt.name not in formats):
                continue
            if missing := RUNTIMES[fmt.runtime].missing_library(libraries):
                skipped.append(f"{model} {fmt.name}: {missing}")
                continue
            combos.append((model, fmt.name))
    return combos, skipped


def browser_combos(combos: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs whose library runs in the browser (measured on every target)."""
    return [(m, f) for m, f in combos if parity.in_browser(FORMATS[f]) and FORMATS[f].runtime != "native"]


def keys(combos: list[tuple[str, str]], browser: Target | None,
         libraries: dict[str, Path]) -> list[TrialKey]:
    """One trial per pair, on the browser when its library runs there, else on this machine."""
    out = []
    for model, name in combos:
        fmt = FORMATS[name]
        in_browser = parity.in_browser(fmt) and fmt.runtime != "native"
        target = browser if in_browser and browser is not None else native_target()
        out.append(TrialKey(model, name, fmt.runtime, fmt.backend, Kind.ACCURACY, settings(), 0,
                            target, protocol.for_trial(Kind.ACCURACY, fmt.runtime, libraries,
                                                       in_node=not in_browser)))
    return out


def runner(ws: Workspace, session: Any, libraries: dict[str, Path]):  # -> sweep.Runner
    keras: dict[str, np.ndarray] = {}  # model -> the Keras model's outputs on the test digits

    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        meta = json.loads((ws.model_dir(key.model) / "meta.json").read_text())
        ref, labels = test_digits(ws, meta["task"], key.model)
        if key.model not in keras:
            try:
                keras[key.model] = parity.native_outputs(ws.model_dir(key.model), meta, ref.inputs)
            except RuntimeError as exc:
                return TrialResult(False, error=str(exc)), {}
        fmt = FORMATS[key.format]
        started = time.perf_counter()
        try:
            got = parity.run_format(ws, fmt, ws.formats / key.model / key.format, ref, session, libraries)
        except RuntimeError as exc:
            return TrialResult(False, error=str(exc), wall_s=time.perf_counter() - started), {}
        wall = time.perf_counter() - started
        expected = keras[key.model]
        if got.size != expected.size:
            return TrialResult(False, error=f"{got.size} outputs for {expected.size} expected",
                               wall_s=wall), {}
        got = got.reshape(expected.shape)
        predicted = got.argmax(1)
        phases = [Phase("accuracy", float((predicted == labels).mean()), "fraction"),
                  Phase("agreement", float((predicted == expected.argmax(1)).mean()), "fraction"),
                  Phase("max_diff", float(np.abs(got - expected).max()), "abs"),
                  Phase("n", float(len(labels)), "count")]
        return TrialResult(True, phases, None, wall, {"precision": fmt.precision}), {}

    return run
