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
from rich.markup import escape
from rich.table import Table

from browserdl.loaders.runtimes import NO_TRAINING, RUNTIMES
from browserdl.reports.loading_tables import backend_label
from browserdl.reports.tables import model_order
from browserdl.results.store import Store

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.json")
TRAINING_SETTING = "train="
NATIVE = "native"


def trials(store: Store) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(model, runtime, backend) -> pooled training data over the ok trials of the main setting
    (the one most trials used: numbers from different learning rates or batch counts don't pool)."""
    rows = [r for r in store.rows()
            if r["ok"] and r["setting"].startswith(TRAINING_SETTING) and r["phase"]]
    counts = Counter(r["setting"] for r in rows if r["phase"] == "train_batch")
    if not counts:
        return {}
    main = counts.most_common(1)[0][0]
    out: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"batch": [], "cpu": [], "before": [], "after": [], "trials": set(), "detail": {},
                 "setting": main, "other_settings": sorted(set(counts) - {main})})
    for row in rows:
        if row["setting"] != main:
            continue
        group = out[(row["model"], row["runtime"], row["backend"])]
        group["trials"].add(row["trial"])
        group["detail"] = row["detail"]
        values = row["samples"] or [row["value"]]
        if row["phase"] == "train_batch":
            group["batch"] += values
        elif row["phase"] == "cpu_train":
            group["cpu"] += values
        elif row["phase"] == "loss_before":
            group["before"].append(row["value"])
        elif row["phase"] == "loss_after":
            group["after"].append(row["value"])
    return dict(out)


def _label(runtime: str, backend: str, detail: dict[str, Any]) -> str:
    return f"{runtime}/{backend_label(backend, detail.get('renderer', ''))}"


def _cell(values: list[float]) -> str:
    mean = float(np.mean(values))
    p10, p90 = np.percentile(values, [10, 90])
    return f"{mean:.3g} ({p10:.3g}–{p90:.3g})"


def _models_in_order(models: set[str]) -> list[str]:
    return sorted(models, key=model_order)


def fig1_table(store: Store) -> Table | None:
    """Mean ms per batch of 64 for each model × runtime/backend, native last."""
    data = trials(store)
    if not data:
        return None
    columns = sorted({(r, b) for _, r, b in data}, key=lambda rb: (rb[0] == NATIVE, rb))
    labels = {}
    for (_, runtime, backend), group in data.items():
        labels[(runtime, backend)] = _label(runtime, backend, group["detail"])
    not_applicable = training_not_applicable(store)
    first = next(iter(data.values()))
    setting = escape("[" + first["setting"] + "]")
    others = (f" (also stored, not shown: {escape(', '.join(first['other_settings']))})"
              if first["other_settings"] else "")
    table = Table(title=f"Fig. 1 — training: mean ms per batch of 64 (p10–p90 over every timed "
                  f"batch of every trial), plain SGD {setting}{others}; n/a = the library can't "
                  "train the model there (reasons below)", title_justify="left")
    table.add_column("model", no_wrap=True)
    for key in columns:
        table.add_column(labels[key], justify="right", no_wrap=True)
    for model in _models_in_order({m for m, _, _ in data}):
        cells = []
        for runtime, backend in columns:
            group = data.get((model, runtime, backend))
            if group and group["batch"]:
                cells.append(_cell(group["batch"]))
            else:
                cells.append("n/a" if (model, runtime, backend) in not_applicable else "—")
        table.add_row(model, *cells)
    return table


def training_ratios(store: Store) -> list[dict[str, Any]]:
    """Browser ÷ native mean time per batch, per model and runtime/backend."""
    data = trials(store)
    rows = []
    for (model, runtime, backend), group in sorted(data.items()):
        native = data.get((model, NATIVE, "cpu"))
        if runtime == NATIVE or not native or not native["batch"] or not group["batch"]:
            continue
        rows.append({"model": model, "runtime": runtime, "backend": backend,
                     "label": _label(runtime, backend, group["detail"]),
                     "ratio": float(np.mean(group["batch"]) / np.mean(native["batch"]))})
    return rows


def training_ratio_table(store: Store) -> Table | None:
    rows = training_ratios(store)
    if not rows:
        return None
    labels = sorted({r["label"] for r in rows})
    table = Table(title="Training: browser ÷ native TensorFlow, mean time per batch (the paper: "
                  "TF.js on the CPU 33.9× slower than native on DNNs, line 345)", title_justify="left")
    table.add_column("model", no_wrap=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    by_model: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        by_model[r["model"]][r["label"]] = r["ratio"]
    for model in _models_in_order(set(by_model)):
        table.add_row(model, *(f"{by_model[model][c]:.2f}×" if c in by_model[model] else "—"
                               for c in labels))
    return table


def table2(store: Store) -> Table | None:
    """CPU utilisation during training per runtime/backend: max, min, mean over every window."""
    data = trials(store)
    if not data:
        return None
    pooled: dict[str, list[float]] = defaultdict(list)
    for (_, runtime, backend), group in data.items():
        pooled[_label(runtime, backend, group["detail"])] += group["cpu"]
    table = Table(title="Table 2 — CPU utilisation during training, % of one core (renderer "
                  "process in the browser, every thread of the process natively), over windows "
                  "of ≥ 250 ms; the paper's numbers beneath", title_justify="left")
    for column in ("runtime/backend", "max", "min", "average", "windows"):
        table.add_column(column, justify="left" if column == "runtime/backend" else "right")
    for label in sorted(pooled, key=lambda lab: (lab.startswith(NATIVE), lab)):
        values = pooled[label]
        if values:
            table.add_row(label, f"{max(values):.1f}", f"{min(values):.1f}",
                          f"{np.mean(values):.1f}", str(len(values)))
    table.add_section()
    paper = json.loads(PAPER_NUMBERS.read_text())["table2_cpu_utilisation_training_pct"]
    for row in paper["rows"]:
        table.add_row(f"[dim]paper: {row['framework']}/{row['backend']}[/]", f"[dim]{row['max']}[/]",
                      f"[dim]{row['min']}[/]", f"[dim]{row['average']}[/]", "")
    return table


def loss_table(store: Store) -> Table | None:
    """The probe's loss before and after the timed batches: a run that trains nothing shows."""
    data = trials(store)
    if not data:
        return None
    table = Table(title="Training loss on the probe (the first 256 trained samples, all when fewer) "
                  "before → after the batches, each library's own objective; how it applies a batch",
                  title_justify="left")
    for column in ("model", "runtime/backend", "objective", "before", "after", "updates"):
        table.add_column(column, justify="right" if column in ("before", "after") else "left")
    for (model, runtime, backend), group in sorted(data.items(), key=lambda kv: (
            model_order(kv[0][0]), kv[0][1:])):
        if not group["before"]:
            continue
        before, after = float(np.median(group["before"])), float(np.median(group["after"]))
        arrow = "[green]↓[/]" if after < before else "[red]↑[/]"
        table.add_row(model, _label(runtime, backend, group["detail"]),
                      escape(group["detail"].get("objective", "")), f"{before:.4g}",
                      f"{after:.4g} {arrow}", escape(group["detail"].get("updates", "")))
    return table


def training_not_applicable(store: Store) -> dict[tuple[str, str, str], str]:
    """(model, runtime, backend) -> why that library can't train the model there: a format the
    library can't express (conversion n/a), or a trial the library refused (e.g. a kernel)."""
    formats = {r.trains: r for r in RUNTIMES.values() if r.trains}
    out: dict[tuple[str, str, str], str] = {}
    for c in store.conversions():
        if c["format"] in formats and c["status"] == "n/a":
            for backend in formats[c["format"]].backends:
                out[(c["model"], formats[c["format"]].name, backend)] = c["reason"] or "n/a"
    for row in store.rows():
        if row["setting"].startswith(TRAINING_SETTING) and row["detail"].get("not_applicable"):
            out[(row["model"], row["runtime"], row["backend"])] = row["error"] or "n/a"
    return out


def not_applicable_table(store: Store) -> Table | None:
    if not trials(store):
        return None
    table = Table(title="Training: not applicable, and why", title_justify="left")
    for column in ("model", "runtime/backend", "reason"):
        table.add_column(column)
    for runtime in RUNTIMES.values():
        if not runtime.trains:
            table.add_row("every model", runtime.name, NO_TRAINING)
    for (model, runtime, backend), reason in sorted(training_not_applicable(store).items(),
                                                    key=lambda kv: (model_order(kv[0][0]), kv[0][1:])):
        table.add_row(model, f"{runtime}/{backend}", escape(reason))
    return table


def all_training_tables(store: Store) -> list[Table | None]:
    return [fig1_table(store), training_ratio_table(store), table2(store), loss_table(store),
            not_applicable_table(store)]
