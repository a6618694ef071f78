"""The paper's figures as matplotlib plots (PNG + SVG), read from the Frame only.

Figs. 2–4 (loading, warm-up, inference) are grouped bars: models on the x axis, one bar per
runtime/backend (native TensorFlow included), median height with p10–p90 whiskers over the
trials, log time axis as in the paper. Fig. 5 does the same for the Keras applications, and a
last figure shows the browser ÷ native ratio per phase. A figure without data is not drawn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import numpy as np

from browserdl.models.zoo import APPLICATIONS  # names only: zoo imports TensorFlow lazily
from browserdl.reports import network_tables
from browserdl.reports.engine_tables import cross_engine_rows
from browserdl.reports.frame import (
    RATIO_PHASES,
    Frame,
    Group,
    backend_label,
    group_key,
    loopback,
    native,
    native_threads,
    series_format,
    setting_label,
    threads_text,
)
from browserdl.reports.loading_tables import ratios
from browserdl.reports.tables import model_order
from browserdl.reports.training_tables import training_ratios

LOAD_PARTS = ("download", "parse", "build")  # as native `load`: the library (≈ TF import) apart
NATIVE = "native"
# PNG text chunks would otherwise carry matplotlib's web address into the report
_PNG_META: dict[str, Any] = {"Software": None}
_SVG_META: dict[str, Any] = {"Creator": None}


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path


# series key: a group without its model, and without its format unless it is not the runtime's
# own there (frame.series_format: one bar colour per runtime, backend, setting and such a
# format); values per model: list of numbers
Series = dict[Any, dict[str, list[float]]]
Trials = dict[tuple[str, Group], dict[int, dict[str, Any]]]


def series_key(group: Group) -> Group:
    if native(group.runtime) and group.kind == "load":  # each model's reference: one series
        return group._replace(model="", format="", settings=(("threads", native_threads(group)),))
    return group._replace(model="", format=series_format(group))


def _collect(frame: Frame, keep: Callable[[Group], bool] = loopback) -> tuple[Trials, dict[Group, str]]:
    """(model, series key) -> trial -> phase -> row, for the groups `keep` accepts; and each
    series' renderer."""
    trials: Trials = defaultdict(lambda: defaultdict(dict))
    renderers: dict[Group, str] = {}
    for row in frame.rows:
        group = group_key(row)
        if not row["ok"] or not row["phase"] or not keep(group):
            continue
        if native(group.runtime) and group.kind == "load" and group not in frame.native_references:
            continue  # the other calls and thread counts: the "Native calls" table
        key = series_key(group)
        trials[(row["model"], key)][row["trial"]][row["phase"]] = row
        if row["detail"].get("renderer"):
            renderers[key] = row["detail"]["renderer"]
    return trials, renderers


def _series(trials: Trials, browser_parts: tuple[str, ...], native_phase: str,
            pool: bool = False) -> Series:
    """Values per series key and model: one per trial (the sum of `browser_parts`), or with
    `pool` every raw sample of every trial."""
    out: Series = defaultdict(lambda: defaultdict(list))
    for (model, key), by_trial in trials.items():
        parts = (native_phase,) if native(key.runtime) else browser_parts
        for phases in by_trial.values():
            if not all(p in phases for p in parts):
                continue
            if pool and len(parts) == 1:
                row = phases[parts[0]]
                out[key][model] += row["samples"] or [row["value"]]
            else:
                out[key][model].append(sum(phases[p]["value"] for p in parts))
    return out


def _label(key: Group, renderers: dict[Group, str]) -> str:
    if native(key.runtime):
        fastest = "fastest call, " if key.kind == "load" else ""
        return f"{key.runtime} ({fastest}{threads_text(native_threads(key))})"
    where = f" on {key.target}" if key.target not in ("", "chromium") else ""
    extra = f" {key.format}" if key.format else ""
    return (f"{key.runtime}/{backend_label(key.backend, renderers.get(key, ''))}{extra}"
            f"{setting_label(key)}{where}")


def _series_order(key: Any) -> tuple:
    # native last, beside the browser bars it is compared with
    return (isinstance(key, Group) and native(key.runtime), key)


def _save(fig: Any, out_dir: Path, name: str) -> tuple[Path, Path]:
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=110, bbox_inches="tight", metadata=_PNG_META)
    with plt.rc_context({"svg.fonttype": "none"}):  # text stays text: smaller, searchable
        fig.savefig(svg, bbox_inches="tight", metadata=_SVG_META)
    plt.close(fig)
    return png, svg


def _grouped_bars(series: Series, models: list[str], renderers: dict[Group, str], ylabel: str,
                  title: str, log: bool = True, reference: float | None = None,
                  labels: dict[tuple, str] | None = None) -> Any:
    """Bars of the median, whiskers p10–p90; a missing (model, series) leaves a gap. `labels`
    names the series when they are not (runtime, backend, setting)."""
    keys = sorted((k for k in series if any(series[k].get(m) for m in models)), key=_series_order)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(min(14.0, max(7.0, 0.16 * len(models) * len(keys) + 3)), 4.8))
    x = np.arange(len(models))
    for i, key in enumerate(keys):
        label = labels[key] if labels else _label(key, renderers)
        xs, med, lo, hi = [], [], [], []
        for j, model in enumerate(models):
            values = series[key].get(model)
            if not values:
                continue
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            xs.append(x[j] - 0.4 + width * (i + 0.5))
            med.append(p50)
            lo.append(p50 - p10)
            hi.append(p90 - p50)
        color = colors[i % 20]
        if not labels and native(key.runtime):  # TensorFlow black, onnxruntime grey
            color = "black" if key.runtime == NATIVE else "0.45"
        ax.bar(xs, med, width=width, color=color, label=label, yerr=[lo, hi], capsize=2,
               error_kw={"elinewidth": 0.8, "ecolor": "0.3"},
               hatch="//" if "software GPU" in label else None, edgecolor="white", linewidth=0.3)
    if reference is not None:
        ax.axhline(reference, color="0.2", linestyle="--", linewidth=0.8)
    tilt = len(models) > 6
    ax.set_xticks(x, models, rotation=20 if tilt else 0, ha="right" if tilt else "center")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# (name, title, browser parts, native phase, pool the samples, caption)
PHASE_FIGURES = [
    ("fig2-loading", "Fig. 2 — loading time",
     LOAD_PARTS, "load", False,
     "Loading per cold trial: download + parse + build in the browser; native = loading "
     "model.h5 in TensorFlow (TF import not included)."),
    ("fig3-warmup", "Fig. 3 — warm-up (first inference)", ("warmup",), "warmup", False,
     "The first inference after loading, one value per cold trial."),
    ("fig4-inference", "Fig. 4 — inference, one sample", ("inference",), "inference", True,
     "Steady-state single-sample inference after warm-up: every run of every trial pooled."),
]
_SPREAD = (" Bars: median; whiskers: p10–p90; log scale. Hatched bars ran on SwiftShader, a software "
           "renderer on the CPU (\"software GPU\"): not GPU numbers.")


def render_all(frame: Frame, out_dir: Path) -> list[Figure]:
    """Draw every figure the frame has data for into out_dir (PNG and SVG); skip the rest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = _training_figures(frame, out_dir)
    trials, renderers = _collect(frame)
    for name, title, parts, native_phase, pool, caption in PHASE_FIGURES:
        series = _series(trials, parts, native_phase, pool)
        present = {m for by_model in series.values() for m, v in by_model.items() if v}
        grid = sorted((m for m in present if m not in APPLICATIONS), key=model_order)
        if grid:
            fig = _grouped_bars(series, grid, renderers, "time (ms)", title)
            figures.append(Figure(name, title, caption + _SPREAD, *_save(fig, out_dir, name)))
        if name == "fig4-inference":
            apps = sorted(m for m in present if m in APPLICATIONS)
            if apps:
                title5 = "Fig. 5 — Keras applications: inference, one sample"
                fig = _grouped_bars(series, apps, renderers, "time (ms)", title5)
                figures.append(Figure("fig5-applications", title5, "Inference of the Keras applications "
                                      "(random weights) per runtime beside native TensorFlow." + _SPREAD,
                                      *_save(fig, out_dir, "fig5-applications")))
    ratio_figure = _ratio_figure(frame, renderers, out_dir)
    if ratio_figure is not None:
        figures.append(ratio_figure)
    return figures + _ttfp_figures(frame, out_dir) + _engine_figures(frame, out_dir)


def _engine_figures(frame: Frame, out_dir: Path) -> list[Figure]:
    """Load (download + parse + build) and inference of the same files on each target."""
    rows = cross_engine_rows(frame)
    if not rows:
        return []
    out = []
    for name, title, parts in (("engines-loading", "Across engines — loading (download + parse + "
                                "build)", LOAD_PARTS),
                               ("engines-inference", "Across engines — inference, one sample",
                                ("inference",))):
        series: Series = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if all(p in row["medians"] for p in parts):
                where = f"{row['model']}\n{row['group'].runtime}/{row['group'].backend}"
                series[(row["target"],)][where].append(sum(row["medians"][p] for p in parts))
        combos = sorted({x for by in series.values() for x in by})
        if not combos:
            continue
        fig = _grouped_bars(series, combos, {}, "time (ms)", title,
                            labels={key: key[0] for key in series})
        out.append(Figure(name, title, "The same converted files, server, network and harness on "
                          "each engine; one bar per target: the median over its cold trials (no "
                          "whiskers: one median per target). Log scale.", *_save(fig, out_dir, name)))
    return out


def _ttfp_figures(frame: Frame, out_dir: Path) -> list[Figure]:
    """Time to first prediction per network profile, one bar per encoding (± compression)."""
    data = network_tables.ttfp(frame)
    figures = []
    for model in network_tables.ttfp_models(data):
        series: Series = defaultdict(lambda: defaultdict(list))
        labels: dict[tuple, str] = {}
        varied = {k[1:3] for k in data if k[0] == model and (k[3] != "none" or k[4] != "none")}
        for (m, fmt, runtime, compression, network), values in data.items():
            if m == model and values["ttfp"] and (fmt, runtime) in varied:
                key = (fmt, runtime, compression)
                series[key]["loopback" if network == "none" else network] = values["ttfp"]
                labels[key] = f"{fmt} ({runtime})" + ("" if compression == "none" else f", {compression}")
        networks = [("loopback" if n == "none" else n) for n in network_tables.NETWORK_ORDER
                    if any(("loopback" if n == "none" else n) in v for v in series.values())]
        name, title = f"ttfp-{model}", f"Time to first prediction — {model}"
        fig = _grouped_bars(series, networks, {}, "library + download + parse + build + warm-up (ms)",
                            title, labels=labels)
        caption = ("Per network profile (CDP emulation: wifi 30 Mbit/s 40 ms, 4g 9 Mbit/s 170 ms, 3g "
                   "1.6 Mbit/s 300 ms per request) and server compression, the median over cold "
                   "trials; whiskers p10–p90; log scale.")
        figures.append(Figure(name, title, caption, *_save(fig, out_dir, name)))
    return figures


def _training_figures(frame: Frame, out_dir: Path) -> list[Figure]:
    """Fig. 1: mean time per training batch of 64, native TensorFlow beside each library."""
    trials, renderers = _collect(frame, lambda group: group.kind == "train")
    series = _series(trials, ("train_batch",), "train_batch", pool=True)
    models = sorted({m for by_model in series.values() for m, v in by_model.items() if v},
                    key=model_order)
    if not models:
        return []
    name, title = "fig1-training", "Fig. 1 — training time per batch of 64"
    fig = _grouped_bars(series, models, renderers, "time per batch (ms)", title)
    caption = ("Plain SGD on the same MNIST batches from the same starting weights; every timed "
               "batch after the warm-up batch of every trial pooled." + _SPREAD)
    return [Figure(name, title, caption, *_save(fig, out_dir, name))]


def _ratio_figure(frame: Frame, renderers: dict[Group, str], out_dir: Path) -> Figure | None:
    """Browser ÷ native median per phase; bars over the models: median, whiskers p10–p90."""
    series: Series = defaultdict(lambda: defaultdict(list))
    for row in ratios(frame):
        key = series_key(row["group"])
        for label, _, _ in RATIO_PHASES:
            if label in row:
                series[key][label].append(row[label])
    for row in training_ratios(frame):  # the same bar colour as the runtime's cold loading trials
        key = Group("", "", row["runtime"], row["backend"], "load", (("cache", "cold"),))
        series[key]["training"].append(row["ratio"])
    labels = [label for label, _, _ in RATIO_PHASES] + ["training"]
    phases = [label for label in labels if any(label in s for s in series.values())]
    if not phases:
        return None
    name, title = "ratio-browser-native", "Browser ÷ native TensorFlow, per phase"
    fig = _grouped_bars(series, phases, renderers, "browser time ÷ native time", title, reference=1.0)
    caption = ("Each bar: the median over models of (browser median ÷ native median) for that phase "
               "(training: mean time per batch); "
               "whiskers p10–p90 over the models; dashed line = parity (1×). Library ↔ TF import, "
               "load = download + parse + build ↔ loading model.h5. Native = the fastest "
               "TensorFlow call (onnxruntime for ort) at 1 thread, every core for wasm-threaded "
               "trials." + _SPREAD.replace("Bars: median; "
               "whiskers: p10–p90; log scale. ", " Log scale. "))
    return Figure(name, title, caption, *_save(fig, out_dir, name))
