"""The paper's tables from this run's Frame: Table 1 (the frameworks), Figs. 2–4 as runtime ×
depth × width tables, Fig. 5 (the Keras applications)."""

from __future__ import annotations

from collections import defaultdict

from browserdl.loaders.runtimes import RUNTIMES
from browserdl.models.zoo import APPLICATIONS
from browserdl.reports.frame import Frame, backend_label, cold, kind, native, series_format
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_number, fmt_value

# each figure: (title, browser phases summed, native phase)
FIGURES = {
    "fig2": ("Fig. 2 — model loading", ("download", "parse", "build"), "load"),
    "fig3": ("Fig. 3 — warm-up", ("warmup",), "warmup"),
    "fig4": ("Fig. 4 — inference of one sample", ("inference",), "inference"),
}
_GRID = ("DNN depth × width: one row per runtime/backend and depth, one column per width; native = "
         "TensorFlow's fastest call at 1 thread (\"Native calls\" has the others); ")
NOTES = {
    "fig2": _GRID + "download + parse + build of cold trials (the library apart); native: "
            "loading model.h5 in TensorFlow.",
    "fig3": _GRID + "the first inference after loading, cold trials.",
    "fig4": _GRID + "the median of every steady-state run after warm-up.",
}


def table1(frame: Frame) -> Table | None:
    """Per runtime: library version and bytes, backends that worked, formats, training, parity."""
    library: dict[str, str] = {}
    library_bytes: dict[str, float] = {}
    worked: dict[str, set[str]] = defaultdict(set)
    tried: dict[str, set[str]] = defaultdict(set)
    trained: dict[str, set[str]] = defaultdict(set)
    for row in frame.rows:
        if kind(row) == "train" and row["ok"]:
            trained[row["runtime"]].add(row["backend"])
        if kind(row) != "load":
            continue
        runtime = row["runtime"]
        tried[runtime].add(row["backend"])
        if row["ok"]:
            worked[runtime].add(row["backend"])
        env = frame.environments.get(row["env_id"], {})
        library[runtime] = env.get("runtime_library") or (
            " ".join(f"{k} {env[k]}" for k in RUNTIMES[runtime].python[:1] if k in env)
            if native(runtime) else "")
        if row["detail"].get("library_bytes"):
            library_bytes[runtime] = row["detail"]["library_bytes"]
    formats: dict[str, list[str]] = defaultdict(list)
    parity: dict[str, list[str]] = defaultdict(list)
    for c in frame.conversions:
        if c["status"] != "n/a" and c["format"] not in formats[c["runtime"]]:
            formats[c["runtime"]].append(c["format"])
        parity[c["runtime"]].append(c["status"])
    runtimes = sorted(set(tried) | set(formats))
    if not runtimes:
        return None
    renderers = {(g.runtime, g.backend): text for g, text in frame.renderers.items()}
    table = Table("Table 1 — the frameworks as found here", columns(
        "runtime", "library", "library bytes", "backends that worked", "formats", "training",
        "parity (ok / checked)", right={"library bytes"}))
    for runtime in runtimes:
        ok = sorted(backend_label(b, renderers.get((runtime, b), "")) for b in worked[runtime])
        failed = sorted(tried[runtime] - worked[runtime])
        backends = ", ".join(ok) + (f" (failed: {', '.join(failed)})" if failed else "")
        checked = [s for s in parity[runtime] if s != "n/a"]
        table.add(runtime, library.get(runtime, ""),
                  fmt_value(library_bytes[runtime], "bytes") if runtime in library_bytes else "—",
                  backends or "—", ", ".join(formats[runtime]) or "—", _training(runtime, trained),
                  f"{checked.count('ok')} / {len(checked)}" if checked else "—")
    return table


def _training(runtime: str, trained: dict[str, set[str]]) -> str:
    """Whether the library can train (paper Table 1), and where it trained here."""
    if runtime in trained:
        return f"yes (trained here: {', '.join(sorted(trained[runtime]))})"
    known = RUNTIMES.get(runtime)
    return "?" if known is None else "yes" if known.trains else "no (inference only)"


def _series(frame: Frame, browser_phases: tuple[str, ...], native_phase: str,
            models: set[str]) -> tuple[list[str], dict[tuple[str, str], float]]:
    """Series (runtime/backend, native first) and (model, series) → median ms, over the cold
    loopback trials."""
    values: dict[tuple[str, str], float] = {}
    series: list[str] = []
    for group, phases in sorted(frame.summaries.items()):
        if group.model not in models or not cold(group):
            continue
        if native(group.runtime):
            if group not in frame.native_references:  # other calls: the "Native calls" table
                continue
            label, wanted = group.runtime, (native_phase,)
        else:
            label = frame.runtime_label(group, with_setting=False)
            if extra := series_format(group):  # its own series: tfjs-graph, quantized variants
                label += f" {extra}"
            wanted = browser_phases
        if not all(p in phases for p in wanted):
            continue
        values[(group.model, label)] = sum(phases[p][0].median for p in wanted)
        if label not in series:
            series.append(label)
    series.sort(key=lambda c: (not native(c), c))
    return series, values


def _ms(value: float | None) -> str:
    return "—" if value is None else fmt_number(value)


def figure_table(frame: Frame, figure: str) -> Table | None:
    """Figs. 2–4: one row per runtime/backend and DNN depth, one column per width, median ms."""
    title, browser_phases, native_phase = FIGURES[figure]
    grid = {frame.model(m).grid: m for m in frame.model_ids("dnn")}
    series, values = _series(frame, browser_phases, native_phase, set(grid.values()))
    if not values:
        return None
    measured = {size for size, model in grid.items() if any((model, s) in values for s in series)}
    widths = sorted({w for _, w in measured})
    depths = sorted({d for d, _ in measured})
    headers = [f"width {w}" for w in widths]
    table = Table(f"{title}, median ms", columns("runtime/backend", "depth", *headers,
                                                 right={"depth", *headers}), notes=[NOTES[figure]])
    for label in series:
        for depth in depths:
            cells = [_ms(values.get((grid.get((depth, w), ""), label))) for w in widths]
            if any(c != "—" for c in cells):
                table.add(label, str(depth), *cells)
        table.end_section()
    return table


def fig5_table(frame: Frame) -> Table | None:
    """Fig. 5: the Keras applications' single-sample inference, one row per runtime/backend."""
    models = [m for m in APPLICATIONS if m in {r["model"] for r in frame.rows}]
    series, values = _series(frame, ("inference",), "inference", set(models))
    if not values:
        return None
    models = [m for m in models if any((m, s) in values for s in series)]
    table = Table("Fig. 5 — Keras applications, inference of one image, median ms",
                  columns("runtime/backend", *models, right=set(models)), notes=[
                      "Random weights (the timings don't depend on them); native = TensorFlow "
                      "on model.h5, its fastest call at 1 thread, in a fresh process per trial."])
    for label in series:
        table.add(label, *(_ms(values.get((m, label))) for m in models))
    return table
