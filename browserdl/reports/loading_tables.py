"""Loading and inference in the browser beside native TensorFlow: the paper's Figs. 2–4 as tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from browserdl.loaders.runtimes import RUNTIMES
from browserdl.reports.stats import Summary, phase_summaries
from browserdl.reports.tables import fmt_summary
from browserdl.results.store import Store

# (phase, column, show p10–p90)
BROWSER_PHASES = [("library", "library", False), ("download", "download", False),
                  ("parse", "parse", False), ("build", "build", False),
                  ("warmup", "warm-up", False), ("inference", "inference", True),
                  ("batch_inference", "batch", False), ("js_heap", "JS heap", False),
                  ("cpu_inference", "CPU (inf.)", False)]
GPU_BACKENDS = {"webgl", "webgpu", "gpu"}
# browser phase(s) ↔ the native phase that does the same work (TensorFlow's import is its
# library phase; onnxruntime's worker calls it `library`)
RATIO_PHASES = [("library", ("library",), "tf_import"),
                ("load", ("download", "parse", "build"), "load"),
                ("warm-up", ("warmup",), "warmup"), ("inference", ("inference",), "inference"),
                ("batch", ("batch_inference",), "batch_inference")]


def loopback(setting: str) -> bool:
    """Timed over plain loopback (no network profile, no compression), or native: the trials
    the paper's figures, the ratios and the trees compare."""
    return setting in ("cache=cold", "cache=warm") or setting.startswith("call=")


def setting_label(setting: str) -> str:
    """", warm cache", ", 3g", ", br" … for what a browser setting adds to cache=cold."""
    fields = dict(part.split("=", 1) for part in setting.split(",") if "=" in part)
    words = ["warm cache"] if fields.get("cache") == "warm" else []
    words += [fields[k] for k in ("network", "compression") if k in fields]
    return "".join(f", {w}" for w in words)


def _renderers(store: Store) -> dict[tuple, str]:
    out: dict[tuple, str] = {}
    for row in store.rows():
        if row["detail"].get("renderer"):
            out[(row["model"], row["format"], row["runtime"], row["backend"], row["setting"])] = (
                row["detail"]["renderer"])
    return out


def backend_label(backend: str, renderer: str) -> str:
    """The backend, marked when its "GPU" is SwiftShader: a software renderer on the CPU."""
    if backend in GPU_BACKENDS and "swiftshader" in renderer.lower():
        return f"{backend} (software GPU)"
    return backend


def _runtime_label(runtime: str, backend: str, setting: str, renderer: str) -> str:
    return f"{runtime}/{backend_label(backend, renderer)}{setting_label(setting)}"


def _browser_groups(summaries: dict[tuple, dict[str, tuple[Summary, str]]]
                    ) -> dict[tuple, dict[str, tuple[Summary, str]]]:
    return {g: s for g, s in summaries.items()
            if not (g[2] in RUNTIMES and RUNTIMES[g[2]].native) and g[4].startswith("cache=")}


def browser_table(store: Store) -> Table | None:
    groups = _browser_groups(phase_summaries(store.rows()))
    if not groups:
        return None
    renderers = _renderers(store)
    table = Table(title="In the browser (headless Chromium): median over trials; inference = one "
                  "sample (p10–p90 of every run); batch = 32 inputs; ! = CV > 10 %; CPU = the "
                  "renderer's CPU time during inference, % of one core", title_justify="left")
    for column in ("model", "format", "runtime/backend", "trials"):
        table.add_column(column, no_wrap=True)
    for _, label, _ in BROWSER_PHASES:
        table.add_column(label, justify="right", no_wrap=True)
    previous = None
    for group in sorted(groups):
        model, fmt, runtime, backend, setting = group
        if previous is not None and model != previous:
            table.add_section()
        previous = model
        phases = groups[group]
        trials = phases["build"][0].n if "build" in phases else 0
        cells = [fmt_summary(*phases[name], spread=spread) if name in phases else "—"
                 for name, _, spread in BROWSER_PHASES]
        table.add_row(model, fmt, _runtime_label(runtime, backend, setting, renderers.get(group, "")),
                      str(trials), *cells)
    return table


def ratios(store: Store) -> list[dict[str, Any]]:
    """Browser ÷ native median per phase, for every browser group whose model ran natively on
    its runtime's baseline (TensorFlow; onnxruntime for ONNX Runtime Web)."""
    summaries = phase_summaries(store.rows())
    native: dict[tuple[str, str], dict[str, tuple[Summary, str]]] = {}
    for (model, _, runtime, _, setting), phases in summaries.items():
        if runtime in RUNTIMES and RUNTIMES[runtime].native and setting.startswith("call="):
            native[(model, runtime)] = {**phases, **({"tf_import": phases["library"]}
                                                     if "library" in phases else {})}
    rows = []
    for (model, fmt, runtime, backend, setting), phases in sorted(_browser_groups(summaries).items()):
        baseline = RUNTIMES[runtime].baseline if runtime in RUNTIMES else "native"
        if (model, baseline) not in native or not loopback(setting):
            continue
        row: dict[str, Any] = {"model": model, "format": fmt, "runtime": runtime,
                               "backend": backend, "setting": setting, "baseline": baseline}
        for label, browser_parts, native_phase in RATIO_PHASES:
            reference = native[(model, baseline)]
            if all(p in phases for p in browser_parts) and native_phase in reference:
                browser = sum(phases[p][0].median for p in browser_parts)
                row[label] = browser / reference[native_phase][0].median
        rows.append(row)
    return rows


def ratio_table(store: Store) -> Table | None:
    rows = ratios(store)
    if not rows:
        return None
    renderers = _renderers(store)
    table = Table(title="Browser ÷ native, per phase (medians; ÷ TensorFlow, or onnxruntime for "
                  "ort; library ↔ import, load = download + parse + build ↔ loading the file)",
                  title_justify="left")
    for column in ("model", "format", "runtime/backend", "÷"):
        table.add_column(column, no_wrap=True)
    for label, _, _ in RATIO_PHASES:
        table.add_column(label, justify="right")
    for row in rows:
        key = (row["model"], row["format"], row["runtime"], row["backend"], row["setting"])
        cells = [f"{row[label]:.2f}×" if label in row else "—" for label, _, _ in RATIO_PHASES]
        table.add_row(row["model"], row["format"], _runtime_label(
            row["runtime"], row["backend"], row["setting"], renderers.get(key, "")),
            row["baseline"], *cells)
    return table

