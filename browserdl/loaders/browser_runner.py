"""Browser timing: each cold trial in a fresh context of one target's browser, timed in the page."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import numpy as np

from browserdl.converter import FORMATS
from browserdl.converter.base import Format
from browserdl.loaders import network as network_profiles
from browserdl.loaders import protocol
from browserdl.loaders.parity import BOUNDS, compare, reference
from browserdl.loaders.runtimes import RUNTIMES, Runtime
from browserdl.loaders.session import BrowserSession
from browserdl.loaders.targets import renderer_of
from browserdl.results.records import Kind, Phase, Settings, Target, TrialKey, TrialResult, settings
from browserdl.workspace import Workspace, node_modules

# As the TF.js benchmark page: cold trials, 1 warm-up, then 50 steady-state runs.
DEFAULT_RUNS = 50
BATCH_RUNS = 5
TIMED_PHASES = ("library", "download", "parse", "build", "warmup", "batch_warmup")
# how an adapter's error says the library cannot run (or train) this model on this backend:
# recorded as not applicable, not as a failure
NOT_APPLICABLE = "n/a: "


@dataclass
class BrowserOptions:
    runs: int = DEFAULT_RUNS
    cache: str = "cold"  # cold: a fresh context per trial; warm: the second load in one context
    timeout_s: float = 120.0
    network: str = network_profiles.NONE  # a profile of loaders/network.py
    compression: str = "none"  # Content-Encoding the server answers with: none, gzip, br
    threads: int = 1  # wasm threads, pinned alike on every engine (WebKit reports 4 cores on 2)


def settings_of(options: BrowserOptions) -> Settings:
    """cache, then network and compression when not the loopback defaults."""
    values = {"cache": options.cache}
    if options.network != network_profiles.NONE:
        values["network"] = options.network
    if options.compression != "none":
        values["compression"] = options.compression
    if options.threads != 1:
        values["threads"] = options.threads
    return settings(values)


def plan(ws: Workspace, models: list[str], runtimes: list[str], backends: list[str] | None,
         formats: list[str] | None, libraries: dict[str, Any]) -> tuple[list[tuple], list[str]]:
    """(model, format, runtime, backend) to time, and what was left out and why.

    Quantized variants are timed only when named in `formats`; a runtime whose library is not
    on npm needs `--lib`.
    """
    combos, skipped = [], []
    for model in models:
        for folder in sorted((ws.formats / model).glob("*/manifest.json")):
            fmt = FORMATS.get(folder.parent.name)
            if fmt is None or fmt.runtime == "native" or fmt.runtime not in runtimes:
                continue
            if formats is not None and fmt.name not in formats:
                continue
            if formats is None and fmt.variant:
                continue
            runtime = RUNTIMES[fmt.runtime]
            if missing := runtime.missing_library(libraries):
                skipped.append(f"{model} {fmt.name}: {missing}")
                continue
            for backend in fmt.backends(runtime.backends):
                if backends is None or backend in backends:
                    combos.append((model, fmt.name, runtime.name, backend))
    return combos, skipped


def keys(combos: list[tuple], trials: int, options: BrowserOptions, target: Target,
         libraries: dict[str, Any]) -> list[TrialKey]:
    return [TrialKey(m, f, r, b, Kind.LOAD, settings_of(options), t, target,
                     protocol.for_trial(Kind.LOAD, r, libraries))
            for m, f, r, b in combos for t in range(trials)]


def library_version(runtime: Runtime, libraries: dict[str, Any]) -> str:
    if runtime.name in libraries:
        return f"user library {libraries[runtime.name]}"
    try:
        manifest = json.loads((node_modules() / runtime.package / "package.json").read_text())
        return f"{runtime.package}@{manifest['version']}"
    except (OSError, ValueError, KeyError):
        return "unknown"


def runner(ws: Workspace, session: BrowserSession, options: BrowserOptions,
           libraries: dict[str, Any]):  # -> sweep.Runner
    primed: set[tuple[str, str, str]] = set()

    def run(key: TrialKey) -> tuple[TrialResult, dict[str, Any]]:
        fmt: Format = FORMATS[key.format]
        try:
            ref = reference(ws, key.model)
        except RuntimeError as exc:  # an added model its own runtime can't run
            return TrialResult(False, error=f"no reference outputs: {exc}"), {}
        env: dict[str, Any] = {**session.describe(), "runtime_library":
                               library_version(RUNTIMES[key.runtime], libraries)}
        request = {"adapter": key.runtime, "backend": key.backend,
                   "formatUrl": session.url(ws.formats / key.model / key.format),
                   "inputUrl": session.url(ref.input_path), "shape": list(ref.inputs.shape),
                   "runs": options.runs, "batchRuns": BATCH_RUNS, "threads": options.threads}
        profile = network_profiles.profile(options.network)
        if profile is not None:
            env["network"] = profile.describe() + "; shaped by the loopback server"
        session.server.compression = options.compression
        if options.compression != "none" and (key.model, key.format, key.runtime) not in primed:
            # a CDN serves files compressed ahead of time: one unrecorded load fills the
            # server's cache, so no trial times the server compressing
            with suppress(RuntimeError):
                session.measure({**request, "runs": 1, "batchRuns": 1}, options.timeout_s)
            primed.add((key.model, key.format, key.runtime))
        if reason := session.lacks(key.backend):  # recorded, not a failure: the engine can't
            return TrialResult(False, error=reason, detail={"not_applicable": True}), env
        started, at = time.perf_counter(), time.time()
        try:
            got = session.measure(request, options.timeout_s, warm=options.cache == "warm",
                                  network=profile)
        except RuntimeError as exc:
            reason, wall = str(exc), time.perf_counter() - started
            if reason.startswith(NOT_APPLICABLE):  # e.g. TF.js wasm has no kernel for this graph
                return TrialResult(False, error=reason.removeprefix(NOT_APPLICABLE), wall_s=wall,
                                   detail={"not_applicable": True}), env
            return TrialResult(False, error=reason, wall_s=wall), env
        wall = time.perf_counter() - started
        got["started_unix"] = at
        got["env"]["renderer"] = renderer_of(session.spec, got["env"]["renderer"])
        env.update(renderer=got["env"]["renderer"], cross_origin_isolated=got["env"]["crossOriginIsolated"],
                   timer_resolution_ms=got["env"]["timerResolutionMs"],
                   user_agent=got["env"]["userAgent"])
        return _result(fmt, key, got, ref.outputs, wall), env

    return run


def _result(fmt: Format, key: TrialKey, got: dict[str, Any], expected: np.ndarray,
            wall: float) -> TrialResult:
    samples = got["samples"]
    phases = [Phase(name, got["phases"][name]) for name in TIMED_PHASES]
    phases += [Phase(name, float(np.median(values)), "ms", values) for name, values in samples.items()]
    transfer = got["transfer"]
    phases += [Phase("transfer_model", transfer["model"]["transfer"], "bytes"),
               Phase("transfer_library", transfer["library"]["transfer"], "bytes")]
    # what the engine or this machine could tell: absent (shown —) where it cannot
    for name, value, unit in (("js_heap", got["js_heap_bytes"], "bytes"),
                              ("peak_rss", got["peak_rss_bytes"], "bytes"),
                              ("cpu_load", got["cpu_load_percent"], "%"),
                              ("cpu_inference", got["cpu_inference_percent"], "%")):
        if value is not None:
            phases.append(Phase(name, value, unit))
    parity = compare(expected, np.asarray(got["output"], dtype=np.float32), BOUNDS[fmt.precision])
    detail = {"backend_used": got["backend"], "max_diff": parity.max_diff,
              "renderer": got["env"]["renderer"], "library_bytes": got["library_bytes"],
              "threads": got["threads"], "started_unix": got["started_unix"],
              "transfer": transfer}
    error = None
    if got["backend"] != key.backend:  # never assume the requested backend ran
        error = f"asked for backend {key.backend}, {key.runtime} ran {got['backend']}"
    elif not parity.ok:
        error = f"the measured page's outputs differ from Keras: {parity.message}"
    return TrialResult(error is None, phases, error, wall, detail)
