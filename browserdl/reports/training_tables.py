"""Training beside native TensorFlow: the paper's Fig. 1 (time per batch) and Table 2 (CPU use).

A training trial's `train_batch` samples are its timed batches (after the warm-up batch); tables
pool every batch of every trial: the mean (the paper's "average time on one batch") with the
p10–p90 spread. CPU use is one value per window of ≥ 250 ms, % of one core.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.loaders.runtimes import NO_TRAINING, RUNTIMES
from browserdl.reports.frame import (
    Frame,
    Group,
    group_key,
    kind,
    native,
    native_threads,
    nearest_threads,
    threads_text,
)
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import model_order

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.json")
NATIVE = "native"


def trials(frame: Frame) -> dict[Group, dict[str, Any]]:
    """Per training group (one model on one runtime/backend) -> pooled data over the ok trials of
    the main setting (the one most trials used: numbers from different learning rates or batch
    counts don't pool)."""
    rows = [r for r in frame.rows if r["ok"] and r["phase"] and kind(r) == "train"]
    counts = Counter(_shared(group_key(r)) for r in rows if r["phase"] == "train_batch")
    if not counts:
        return {}
    main = counts.most_common(1)[0][0]
    others = [",".join(f"{k}={v}" for k, v in o) for o in sorted(set(counts) - {main})]
    out: dict[Group, dict[str, Any]] = defaultdict(
        lambda: {"batch": [], "cpu": [], "before": [], "after": [], "trials": set(), "detail": {},
                 "setting": ",".join(f"{k}={v}" for k, v in main), "other_settings": others})
    for row in rows:
        group = group_key(row)
        if _shared(group) != main:
            continue
        data = out[group]
        data["trials"].add(row["trial"])
        data["detail"] = row["detail"]
        values = row["samples"] or [row["value"]]
        if row["phase"] == "train_batch":
            data["batch"] += values
        elif row["phase"] == "cpu_train":
            data["cpu"] += values
        elif row["phase"] == "loss_before":
            data["before"].append(row["value"])
        elif row["phase"] == "loss_after":
            data["after"].append(row["value"])
    return dict(out)


def _shared(group: Group) -> tuple[tuple[str, str], ...]:
    """The settings every runtime's trials share (a native trial's thread count aside)."""
    return tuple((k, v) for k, v in group.settings if k != "threads")


def _label(frame: Frame, group: Group) -> str:
    label = frame.runtime_label(group, with_setting=False)
    return f"{label}, {threads_text(native_threads(group))}" if native(group.runtime) else label


def _series_key(group: Group) -> tuple[str, str, str]:
    """runtime, backend, then what tells two series of it apart: native thread count, or target."""
    return (group.runtime, group.backend, native_threads(group) if native(group.runtime) else group.target)


def _cell(values: list[float]) -> str:
    mean = float(np.mean(values))
    p10, p90 = np.percentile(values, [10, 90])
    return f"{mean:.3g} ({p10:.3g}–{p90:.3g})"


def _models_in_order(models: set[str]) -> list[str]:
    return sorted(models, key=model_order)


def _series_order(label: str) -> tuple:
    return (label.startswith(NATIVE), label)  # native last, beside the libraries it is compared with


def fig1_table(frame: Frame) -> Table | None:
    """Mean ms per batch of 64: one row per model and runtime/backend (native last), n/a where the
    library can't train the model there."""
    data = trials(frame)
    if not data:
        return None
    labels = {g: _label(frame, g) for g in data}
    series = {_series_key(g): labels[g] for g in data}
    not_applicable = training_not_applicable(frame)
    first = next(iter(data.values()))
    others = (f" Also stored, not shown: {', '.join(first['other_settings'])}."
              if first["other_settings"] else "")
    table = Table("Fig. 1 — training, mean ms per batch of 64", columns(
        "model", "runtime/backend", "mean (p10–p90)", "batches", "trials",
        right={"mean (p10–p90)", "batches", "trials"}), notes=[
        f"Plain SGD [{first['setting']}]; the mean over every timed batch of every trial, p10–p90 "
        f"in brackets; n/a = the library can't train the model there (reasons in \"Training — not "
        f"applicable\").{others}"])
    by_model: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for group, pooled in data.items():
        by_model[group.model][_series_key(group)] = pooled
    for model in _models_in_order(set(by_model)):
        for key in sorted(series, key=lambda k: _series_order(series[k])):
            pooled = by_model[model].get(key)
            if pooled and pooled["batch"]:
                table.add(model, series[key], _cell(pooled["batch"]), str(len(pooled["batch"])),
                          str(len(pooled["trials"])))
            elif (model, *key[:2]) in not_applicable:
                table.add(model, series[key], "n/a", "", "")
        table.end_section()
    return table


def training_ratios(frame: Frame) -> list[dict[str, Any]]:
    """Browser ÷ native mean time per batch, per model and runtime/backend; native at the
    browser trial's thread count (1 unless it ran wasm threads; the other when not stored)."""
    data = trials(frame)
    native_data = {(g.model, native_threads(g)): d for g, d in data.items()
                   if g.runtime == NATIVE and d["batch"]}
    rows = []
    for group, pooled in sorted(data.items()):
        if group.runtime == NATIVE or not pooled["batch"]:
            continue
        stored = {t for m, t in native_data if m == group.model}
        if not stored:
            continue
        threads = nearest_threads(frame.wanted_threads(group), stored)
        reference = native_data[(group.model, threads)]
        rows.append({"model": group.model, "runtime": group.runtime, "backend": group.backend,
                     "group": group, "label": _label(frame, group),
                     "baseline": f"native train_on_batch, {threads_text(threads)}",
                     "ratio": float(np.mean(pooled["batch"]) / np.mean(reference["batch"]))})
    return rows


def native_train_step(frame: Frame) -> str:
    """How the native training step ran, as the worker checked it (graph or eager)."""
    steps = {d["detail"].get("train_step") for g, d in trials(frame).items() if g.runtime == NATIVE}
    return "; ".join(sorted(s for s in steps if s)) or "not recorded (trials before the check)"


def training_ratio_table(frame: Frame) -> Table | None:
    rows = training_ratios(frame)
    if not rows:
        return None
    labels = sorted({r["label"] for r in rows})
    table = Table("Training — browser ÷ native TensorFlow, per batch",
                  columns("model", *labels, right=set(labels)), notes=[
                      "Mean time per batch in the browser ÷ native TensorFlow's train_on_batch at 1 "
                      "thread (every core for a wasm-threaded trial). Native step: "
                      f"{native_train_step(frame)}. The paper: TF.js on the CPU 33.9× slower than "
                      "native on DNNs (line 345)."])
    by_model: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        by_model[r["model"]][r["label"]] = r["ratio"]
    for model in _models_in_order(set(by_model)):
        table.add(model, *(f"{by_model[model][c]:.2f}×" if c in by_model[model] else "—" for c in labels))
    return table


def table2(frame: Frame) -> Table | None:
    """CPU utilisation during training per runtime/backend: max, min, mean over every window."""
    data = trials(frame)
    if not data:
        return None
    pooled: dict[str, list[float]] = defaultdict(list)
    for group, values in data.items():
        pooled[_label(frame, group)] += values["cpu"]
    table = Table("Table 2 — CPU utilisation during training, % of one core", columns(
        "runtime/backend", "max", "min", "average", "windows",
        right={"max", "min", "average", "windows"}), notes=[
        "The renderer process in the browser, every thread of the process natively, over windows "
        "of ≥ 250 ms; the rows named paper: are the paper's own numbers."])
    for label in sorted(pooled, key=_series_order):
        values = pooled[label]
        if values:
            table.add(label, f"{max(values):.1f}", f"{min(values):.1f}", f"{np.mean(values):.1f}",
                      str(len(values)))
    table.end_section()
    paper = json.loads(PAPER_NUMBERS.read_text())["table2_cpu_utilisation_training_pct"]
    for row in paper["rows"]:
        table.add(f"paper: {row['framework']}/{row['backend']}", f"{row['max']}", f"{row['min']}",
                  f"{row['average']}", "")
    return table


def loss_table(frame: Frame) -> Table | None:
    """The probe's loss before and after the timed batches: a run that trains nothing shows."""
    data = trials(frame)
    if not data:
        return None
    table = Table("Training loss on the probe, before → after", columns(
        "model", "runtime/backend", "objective", "before", "after", "updates",
        right={"before", "after"}), notes=[
        "The probe = the first 256 trained samples (all when fewer); each library's own objective; "
        "updates = how it applies a batch; ↓ = the loss fell."])
    for group, pooled in sorted(data.items(), key=lambda kv: (model_order(kv[0].model), kv[0])):
        if not pooled["before"]:
            continue
        before, after = float(np.median(pooled["before"])), float(np.median(pooled["after"]))
        table.add(group.model, _label(frame, group), pooled["detail"].get("objective", ""),
                  f"{before:.4g}", f"{after:.4g} {'↓' if after < before else '↑'}",
                  pooled["detail"].get("updates", ""))
    return table


def training_not_applicable(frame: Frame) -> dict[tuple[str, str, str], str]:
    """(model, runtime, backend) -> why that library can't train the model there: a format the
    library can't express (conversion n/a), or a trial the library refused (e.g. a kernel)."""
    formats = {r.trains: r for r in RUNTIMES.values() if r.trains}
    out: dict[tuple[str, str, str], str] = {}
    for c in frame.conversions:
        if c["format"] in formats and c["status"] == "n/a":
            for backend in formats[c["format"]].backends:
                out[(c["model"], formats[c["format"]].name, backend)] = c["reason"] or "n/a"
    for row in frame.rows:
        if kind(row) == "train" and row["detail"].get("not_applicable"):
            out[(row["model"], row["runtime"], row["backend"])] = row["error"] or "n/a"
    return out


def not_applicable_table(frame: Frame) -> Table | None:
    if not trials(frame):
        return None
    table = Table("Training — not applicable, and why", columns("model", "runtime/backend", "reason"))
    for runtime in RUNTIMES.values():
        if not runtime.trains:
            table.add("every model", runtime.name, NO_TRAINING)
    for (model, runtime, backend), reason in sorted(training_not_applicable(frame).items(),
                                                    key=lambda kv: (model_order(kv[0][0]), kv[0][1:])):
        table.add(model, f"{runtime}/{backend}", reason)
    return table


def all_training_tables(frame: Frame) -> list[Table | None]:
    return [fig1_table(frame), training_ratio_table(frame), table2(frame), loss_table(frame),
            not_applicable_table(frame)]
