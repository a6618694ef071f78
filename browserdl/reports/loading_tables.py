"""Loading and inference in the browser beside native TensorFlow, and the browser ÷ native ratios."""

from __future__ import annotations

from typing import Any

from browserdl.reports.frame import (
    GPU_BACKENDS,
    RATIO_PHASES,
    Frame,
    Group,
    Phases,
    backend_label,
    browser,
    loopback,
    setting_label,
)
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_summary

__all__ = ["GPU_BACKENDS", "RATIO_PHASES", "backend_label", "browser_table", "loopback", "ratio_table",
           "ratios", "setting_label"]

# (phase, column, show p10–p90): loading first, then what a loaded model costs per use
LOADING_PHASES = [("library", "library", False), ("download", "download", False),
                  ("parse", "parse", False), ("build", "build", False),
                  ("warmup", "warm-up", False)]
USE_PHASES = [("inference", "inference", True), ("batch_inference", "batch", False),
              ("js_heap", "JS heap", False), ("cpu_inference", "CPU (inf.)", False)]
BROWSER_PHASES = LOADING_PHASES + USE_PHASES


def _browser_groups(frame: Frame) -> dict[Group, Phases]:
    return {g: s for g, s in frame.summaries.items() if browser(g)}


def _phase_table(frame: Frame, title: str, phases_shown: list[tuple[str, str, bool]],
                 notes: list[str]) -> Table | None:
    groups = _browser_groups(frame)
    if not groups:
        return None
    labels = [label for _, label, _ in phases_shown]
    table = Table(title, columns("model", "format", "runtime/backend", "trials", *labels,
                                 right={"trials", *labels}), notes=notes)
    previous = None
    for group in sorted(groups):
        if previous is not None and group.model != previous:
            table.end_section()
        previous = group.model
        phases = groups[group]
        trials = phases["build"][0].n if "build" in phases else 0
        cells = [fmt_summary(*phases[name], spread=spread) if name in phases else "—"
                 for name, _, spread in phases_shown]
        table.add(group.model, group.format, frame.runtime_label(group), str(trials), *cells)
    return table


def browser_table(frame: Frame) -> Table | None:
    """Loading in the browser, phase by phase: median over cold (or warm) trials."""
    return _phase_table(frame, "In the browser — loading", LOADING_PHASES, [
        "A fresh context per trial in each target's browser (see Targets); median over trials; library = the "
        "framework's script fetched and evaluated, download = the model's bytes, parse, build = "
        "framework objects and weight upload, warm-up = the first inference."])


def browser_use_table(frame: Frame) -> Table | None:
    """What a loaded model costs per use in the browser: inference, batch, heap and CPU time."""
    return _phase_table(frame, "In the browser — inference", USE_PHASES, [
        "Inference = one sample, median (p10–p90) of every steady-state run of every trial; "
        "batch = 32 inputs; ! = CV > 10 %; JS heap after the runs (CDP only: — elsewhere); CPU = "
        "the local browser's whole process tree's CPU time during inference, % of one core (a "
        "remote Chromium: its renderer's, over CDP)."])


def ratios(frame: Frame) -> list[dict[str, Any]]:
    """Browser ÷ native median per phase, for every loopback browser group whose model ran
    natively on its runtime's baseline (TensorFlow; onnxruntime for ONNX Runtime Web): its
    fastest call at the browser's thread count (frame.baseline_for), named in `baseline`."""
    rows = []
    for group, phases in sorted(_browser_groups(frame).items()):
        reference = frame.baseline_for(group) if loopback(group) else None
        if reference is None:
            continue
        row: dict[str, Any] = {"model": group.model, "format": group.format, "runtime": group.runtime,
                               "backend": group.backend, "group": group, "baseline": reference.label}
        for label, browser_parts, native_phase in RATIO_PHASES:
            if all(p in phases for p in browser_parts) and native_phase in reference.phases:
                browser_ms = sum(phases[p][0].median for p in browser_parts)
                row[label] = browser_ms / reference.phases[native_phase][0].median
        rows.append(row)
    return rows


def ratio_table(frame: Frame) -> Table | None:
    rows = ratios(frame)
    if not rows:
        return None
    labels = [label for label, _, _ in RATIO_PHASES]
    table = Table("Browser ÷ native, per phase", columns(
        "model", "format", "runtime/backend", "÷", *labels, right=set(labels)), notes=[
        "Medians; ÷ = the native trials divided by: TensorFlow (onnxruntime for ort), its fastest "
        "call on the model (see \"Native calls\"), at 1 thread unless the browser trial ran wasm "
        "threads (then every core); library ↔ TensorFlow's import, load = download + parse + "
        "build ↔ loading the file."])
    for row in rows:
        cells = [f"{row[label]:.2f}×" if label in row else "—" for label in labels]
        table.add(row["model"], row["format"], frame.runtime_label(row["group"]), row["baseline"], *cells)
    return table
