"""The paper's Fig. 6: a decision tree predicting log(browser time ÷ native time) per network type.

Method of §5.2.2 (paper lines 331–335): one regression tree per network type (DNN, CNN, RNN) over
the factors backend, task, depth and width, its depth limited to the number of factors so no
factor is used twice on one path. The data are the browser ÷ native medians per phase that
`loading_tables.ratios` computes from the store; the paper studies TensorFlow.js, so by default
only the `tfjs` runtime is used. The target is the log of the ratio (ratios span orders of
magnitude); leaves are shown back as ratios.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from browserdl.reports.frame import Frame, cold, series_format
from browserdl.reports.loading_tables import ratios
from browserdl.reports.table import Table, columns
from browserdl.reports.training_tables import training_ratios

FACTORS = ("backend", "task", "depth", "width")
NETWORKS = ("dnn", "cnn", "rnn")  # model families (frame.ModelInfo.family), one tree each
# ratio column of `ratios()` -> task name; training (time per batch) comes from training_ratios()
TASKS = {"warm-up": "warmup", "inference": "inference", "batch": "batch"}
MIN_ROWS = 8
BASELINE_NOTE = ("Ratios ÷ native TensorFlow's fastest call on the model (\"Native calls\") at 1 "
                 "thread, every core for a wasm-threaded trial; training ÷ train_on_batch at the "
                 "same thread rule.")
MIN_SIZES = 2  # distinct (depth, width) models: without them the tree can't speak of model size


@dataclass
class TreeResult:
    network: str
    enough: bool
    n_rows: int
    text: str
    importances: dict[str, float]
    message: str
    model: Any = None  # the fitted DecisionTreeRegressor, when enough
    feature_names: list[str] = field(default_factory=list)


def tree_rows(frame: Frame, runtime: str = "tfjs") -> dict[str, list[dict[str, Any]]]:
    """Per network type: one row per (backend, task, depth, width) with its browser ÷ native ratio.

    Cold-cache trials only (a warm cache changes loading, not these phases)."""
    out: dict[str, list[dict[str, Any]]] = {net: [] for net in NETWORKS}

    def add(model: str, backend: str, task: str, ratio: float) -> None:
        info = frame.model(model)
        if info.family in out and info.grid:
            out[info.family].append({"backend": backend, "task": task, "depth": info.grid[0],
                                     "width": info.grid[1], "ratio": ratio, "model": model})

    for row in ratios(frame):
        # the runtime's own format per backend: a second one (tfjs-graph) is not a feature here
        if row["runtime"] == runtime and cold(row["group"]) and not series_format(row["group"]):
            for column, task in TASKS.items():
                if row.get(column, 0) > 0:
                    add(row["model"], row["backend"], task, row[column])
    for row in training_ratios(frame):
        if row["runtime"] == runtime and row["ratio"] > 0:
            add(row["model"], row["backend"], "training", row["ratio"])
    return out


def _features(rows: list[dict[str, Any]]) -> tuple[list[list[float]], list[str]]:
    """One-hot backend and task (named `backend=webgl`), numeric depth and width."""
    backends = sorted({r["backend"] for r in rows})
    tasks = sorted({r["task"] for r in rows})
    names = [f"backend={b}" for b in backends] + [f"task={t}" for t in tasks] + ["depth", "width"]
    matrix = [[float(r["backend"] == b) for b in backends] + [float(r["task"] == t) for t in tasks]
              + [float(r["depth"]), float(r["width"])] for r in rows]
    return matrix, names


def _factor(feature: str) -> str:
    return feature.split("=", 1)[0]


def _as_ratios(text: str) -> str:
    """export_text prints log values; show each leaf as the ratio e^value, thresholds short."""
    text = re.sub(r"value: \[(-?[\d.]+)\]",
                  lambda m: f"ratio = {math.exp(float(m[1])):.3g}× (log {float(m[1]):.2f})", text)
    return re.sub(r"(<=|>)\s+(-?[\d.]+)", lambda m: f"{m[1]} {float(m[2]):g}", text)


def fit_tree(network: str, rows: list[dict[str, Any]]) -> TreeResult:
    """Fit one network type's tree, or say why there is not enough data."""
    from sklearn.tree import DecisionTreeRegressor, export_text

    sizes = {(r["depth"], r["width"]) for r in rows}
    varying = [f for f in FACTORS if len({r[f] for r in rows}) > 1]
    if len(rows) < MIN_ROWS or len(sizes) < MIN_SIZES or len(varying) < 2:
        return TreeResult(network, False, len(rows), "", {}, (
            f"not enough data: {network.upper()} has {len(rows)} browser ÷ native ratios over "
            f"{len(sizes)} model size(s) (depth × width); the tree needs ≥ {MIN_ROWS} ratios, "
            f"≥ {MIN_SIZES} model sizes and ≥ 2 varying factors (varying: "
            f"{', '.join(varying) or 'none'}). Measure more models natively and in the browser."))
    matrix, names = _features(rows)
    target = [math.log(r["ratio"]) for r in rows]
    # min_impurity_decrease: never split on floating-point noise between equal ratios
    tree = DecisionTreeRegressor(max_depth=len(FACTORS), min_impurity_decrease=1e-9,
                                 random_state=0).fit(matrix, target)
    importances = dict.fromkeys(FACTORS, 0.0)
    for name, value in zip(names, tree.feature_importances_, strict=True):
        importances[_factor(name)] += float(value)
    text = _as_ratios(export_text(tree, feature_names=names, decimals=6))
    notes = ["every ratio is equal, the tree is a single leaf"] if tree.tree_.node_count == 1 else []
    if len({d for d, _ in sizes}) == len({w for _, w in sizes}) == len(sizes):
        # e.g. only d1-w64 and d2-w128: a split on one stands for both
        notes.append("depth and width change together in this grid, so their importances can't "
                     "be told apart")
    message = (f"{network.upper()}: {len(rows)} ratios, {len(sizes)} model sizes, factors varying: "
               f"{', '.join(varying)}" + "".join(f"; {n}" for n in notes))
    return TreeResult(network, True, len(rows), text, importances, message, tree, names)


def decision_trees(frame: Frame, runtime: str = "tfjs") -> list[TreeResult]:
    """Fig. 6: one TreeResult per network type (dnn, cnn, rnn), fitted or "not enough data"."""
    return [fit_tree(net, rows) for net, rows in tree_rows(frame, runtime).items()]


def tree_figure(result: TreeResult, out_dir: Path) -> tuple[Path, Path] | None:
    """Draw a fitted tree to fig6-<network>.png and .svg; None when the tree was not fitted."""
    if not result.enough or result.model is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.tree import plot_tree

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    leaves = result.model.get_n_leaves()
    fig, ax = plt.subplots(figsize=(min(30.0, max(8.0, 1.3 * leaves)), 7))
    for text in plot_tree(result.model, feature_names=result.feature_names, filled=True,
                          impurity=False, rounded=True, fontsize=8, ax=ax):
        # nodes hold log(ratio): label them with the ratio itself
        text.set_text(re.sub(r"value = (-?[\d.]+)",
                             lambda m: f"ratio = {math.exp(float(m[1])):.3g}×", text.get_text()))
    ax.set_title(f"Fig. 6 ({result.network.upper()}): browser ÷ native TensorFlow time, "
                 f"max_depth = {len(FACTORS)} factors\n(native: fastest call, 1 thread; every core "
                 "for wasm threads; training: train_on_batch)", fontsize=10)
    png, svg = out_dir / f"fig6-{result.network}.png", out_dir / f"fig6-{result.network}.svg"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return png, svg


def importance_table(results: list[TreeResult]) -> Table:
    """Each factor's importance per network type (0–1, summing to 1), or why there is no tree."""
    table = Table("Fig. 6: what predicts log(browser ÷ native time)", columns(
        "network", "ratios", *FACTORS, "note", right={"ratios", *FACTORS}), notes=[
        "Decision-tree factor importance, 0–1, summing to 1 per network type; GPU backends here "
        "are software GPU (SwiftShader).", BASELINE_NOTE])
    for r in results:
        cells = [f"{r.importances[f]:.2f}" for f in FACTORS] if r.enough else ["—"] * len(FACTORS)
        table.add(r.network.upper(), str(r.n_rows), *cells, r.message)
    return table
