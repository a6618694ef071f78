"""Rich tables read from the results store only (never from a runner)."""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table

from browserdl.loaders.runtimes import RUNTIMES
from browserdl.reports.stats import Summary, phase_summaries
from browserdl.results.store import Store

# (phase, column, show p10–p90)
NATIVE_PHASES = [("tf_import", "import", False), ("load", "load", True),
                 ("warmup", "warm-up", True), ("inference", "inference", True),
                 ("batch_inference", "batch inference", True), ("peak_rss", "peak RSS", False)]
CALLS = {"direct": "model(x, training=False)", "predict": "model.predict(x)",
         "run": "InferenceSession.run"}


def model_order(model: str) -> tuple:
    """DNN grid first by depth then width, then CNN, RNN, the rest by name."""
    for rank, pattern in enumerate((r"dnn-d(\d+)-w(\d+)", r"dnn-d(\d+)-w(\d+)-tanh",
                                    r"cnn-l(\d+)-w(\d+)", r"rnn-l(\d+)-w(\d+)")):
        match = re.fullmatch(pattern, model)
        if match:
            return (rank, int(match[1]), int(match[2]), model)
    return (9, 0, 0, model)


def _scale(value: float, unit: str) -> tuple[float, str]:
    """Divisor and display unit that suit `value`."""
    if unit == "bytes":
        for divisor, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if value >= divisor:
                return divisor, suffix
        return 1, "B"
    if unit == "ms" and value >= 1000:
        return 1000, "s"
    return 1, unit


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_value(value: float, unit: str) -> str:
    divisor, suffix = _scale(value, unit)
    return f"{_num(value / divisor)} {suffix}"


def fmt_summary(summary: Summary, unit: str, spread: bool = True) -> str:
    """`median unit (p10–p90)`, the spread in the median's unit; `!` marks CV > 10 %."""
    divisor, suffix = _scale(summary.median, unit)
    text = f"{_num(summary.median / divisor)} {suffix}"
    if spread and summary.n > 1:
        text += f" [dim]({_num(summary.p10 / divisor)}–{_num(summary.p90 / divisor)})[/]"
    if summary.unstable:
        text += " [yellow]![/]"
    return text


def models_table(store: Store, ids: list[str] | None = None) -> Table:
    table = Table(title="Reference models", title_justify="left")
    for column in ("model", "architecture", "trainable params", "FLOPs / sample",
                   "test accuracy", "trained on"):
        table.add_column(column, justify="right" if column[0] in "tF" else "left")
    for meta in store.models():
        if ids is not None and meta["id"] not in ids:
            continue
        accuracy = meta.get("test_accuracy")
        table.add_row(
            meta["id"], meta["description"], f"{meta['trainable_params']:,}",
            f"{meta['flops'] / 1e6:,.2f} M", "—" if accuracy is None else f"{accuracy:.4f}",
            meta.get("data_source", "").split(":")[0],
        )
    return table


def native_table(store: Store) -> Table | None:
    """Native phase medians (p10–p90) per model; None when nothing native is stored."""
    summaries = {g: s for g, s in phase_summaries(store.rows()).items()
                 if g[2] in RUNTIMES and RUNTIMES[g[2]].native
                 and g[4].startswith("call=")}  # not the file sizes
    if not summaries:
        return None
    table = Table(
        title="Native (CPU): TensorFlow on model.h5, onnxruntime (ort-native) on model.onnx; median "
        "(p10–p90) over cold trials; inference = one sample, all steady-state runs pooled; ! = CV > "
        "10 %; import = TensorFlow's or onnxruntime's; call: "
        + "; ".join(f"{k} = {v}" for k, v in CALLS.items()), title_justify="left")
    table.add_column("model", no_wrap=True)
    table.add_column("runtime", no_wrap=True)
    table.add_column("call", no_wrap=True)
    table.add_column("trials", justify="right", no_wrap=True, min_width=6)
    for _, label, _ in NATIVE_PHASES:
        table.add_column(label, justify="right", no_wrap=True)
    for (model, _, runtime, _, setting), phases in sorted(summaries.items()):
        fields = dict(p.split("=", 1) for p in setting.split(",") if "=" in p)
        call = f"{fields.get('call', '?')}, b{fields.get('batch', '?')}"
        trials = phases["load"][0].n if "load" in phases else 0
        if "library" in phases:  # onnxruntime's import
            phases = {**phases, "tf_import": phases["library"]}
        cells = [fmt_summary(*phases[name], spread=spread) if name in phases else "—"
                 for name, _, spread in NATIVE_PHASES]
        table.add_row(model, runtime, call, str(trials), *cells)
    return table


def failures_table(store: Store) -> Table | None:
    failed: list[dict[str, Any]] = [r for r in store.rows()
                                     if not r["ok"] and not r["detail"].get("not_applicable")]
    seen: dict[tuple, str] = {}
    for r in failed:
        seen[(r["model"], r["runtime"], r["backend"], r["setting"], r["trial"])] = r["error"] or ""
    if not seen:
        return None
    table = Table(title="Failed trials (a rerun tries them again)", title_justify="left")
    for column in ("model", "runtime/backend", "setting", "trial", "reason"):
        table.add_column(column)
    for (model, runtime, backend, setting, trial), error in sorted(seen.items()):
        table.add_row(model, f"{runtime}/{backend}", setting, str(trial), error)
    return table
