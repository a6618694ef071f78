"""The paper's tables from this run's store: Table 1 (the frameworks), Figs. 2–4 as depth × width
× runtime tables, Fig. 5 (the Keras applications)."""

from __future__ import annotations

import re
from collections import defaultdict

from rich.table import Table

from browserdl.loaders.runtimes import RUNTIMES
from browserdl.models.zoo import APPLICATIONS
from browserdl.reports.loading_tables import backend_label
from browserdl.reports.stats import Summary, phase_summaries
from browserdl.reports.store import Store
from browserdl.reports.tables import fmt_value
from browserdl.reports.training_tables import TRAINING_SETTING

_DNN = re.compile(r"dnn-d(\d+)-w(\d+)")
# each figure: (title, browser phases summed, native phase)
FIGURES = {
    "fig2": ("Fig. 2 — model loading (download + parse + build; native: load model.h5)",
             ("download", "parse", "build"), "load"),
    "fig3": ("Fig. 3 — warm-up (first inference)", ("warmup",), "warmup"),
    "fig4": ("Fig. 4 — inference, one sample (median of the steady-state runs)",
             ("inference",), "inference"),
}


def _timing_groups(store: Store) -> dict[tuple, dict[str, tuple[Summary, str]]]:
    return {g: s for g, s in phase_summaries(store.rows()).items()
            if g[4] == "cache=cold" or g[4].startswith("call=")}


def _renderer_of(store: Store) -> dict[tuple[str, str], str]:
    out = {}
    for row in store.rows():
        if row["detail"].get("renderer"):
            out[(row["runtime"], row["backend"])] = row["detail"]["renderer"]
    return out


def table1(store: Store) -> Table | None:
    """Per runtime: library version and bytes, backends that worked, formats, training, parity."""
    envs = store.environments()
    library: dict[str, str] = {}
    library_bytes: dict[str, float] = {}
    worked: dict[str, set[str]] = defaultdict(set)
    tried: dict[str, set[str]] = defaultdict(set)
    trained: dict[str, set[str]] = defaultdict(set)
    for row in store.rows():
        if row["setting"].startswith(TRAINING_SETTING) and row["ok"]:
            trained[row["runtime"]].add(row["backend"])
        if not row["setting"].startswith(("cache=", "call=")):
            continue
        runtime = row["runtime"]
        tried[runtime].add(row["backend"])
        if row["ok"]:
            worked[runtime].add(row["backend"])
        env = envs.get(row["env_id"], {})
        library[runtime] = env.get("runtime_library") or (
            " ".join(f"{k} {env[k]}" for k in RUNTIMES[runtime].python[:1] if k in env)
            if RUNTIMES[runtime].native else "")
        if row["detail"].get("library_bytes"):
            library_bytes[runtime] = row["detail"]["library_bytes"]
    formats: dict[str, list[str]] = defaultdict(list)
    parity: dict[str, list[str]] = defaultdict(list)
    for c in store.conversions():
        if c["status"] != "n/a" and c["format"] not in formats[c["runtime"]]:
            formats[c["runtime"]].append(c["format"])
        parity[c["runtime"]].append(c["status"])
    runtimes = sorted(set(tried) | set(formats))
    if not runtimes:
        return None
    renderers = _renderer_of(store)
    table = Table(title="Table 1 — the frameworks as found here", title_justify="left")
    for column in ("runtime", "library", "library bytes", "backends that worked", "formats",
                   "training", "parity (ok / checked)"):
        table.add_column(column)
    for runtime in runtimes:
        ok = sorted(backend_label(b, renderers.get((runtime, b), "")) for b in worked[runtime])
        failed = sorted(tried[runtime] - worked[runtime])
        backends = ", ".join(ok) + (f" [red](failed: {', '.join(failed)})[/]" if failed else "")
        checked = [s for s in parity[runtime] if s != "n/a"]
        table.add_row(runtime, library.get(runtime, ""),
                      fmt_value(library_bytes[runtime], "bytes") if runtime in library_bytes else "—",
                      backends or "—", ", ".join(formats[runtime]) or "—",
                      _training(runtime, trained),
                      f"{checked.count('ok')} / {len(checked)}" if checked else "—")
    return table


def _training(runtime: str, trained: dict[str, set[str]]) -> str:
    """Whether the library can train (paper Table 1), and where it trained here."""
    if runtime in trained:
        return f"yes (trained here: {', '.join(sorted(trained[runtime]))})"
    known = RUNTIMES.get(runtime)
    return "?" if known is None else "yes" if known.trains else "no (inference only)"


def _series(store: Store, browser_phases: tuple[str, ...], native_phase: str,
            models: list[str]) -> tuple[list[str], dict[tuple[str, str], float]]:
    """Columns (runtime/backend, native first) and (model, column) → median ms."""
    renderers = _renderer_of(store)
    values: dict[tuple[str, str], float] = {}
    columns: list[str] = []
    for (model, fmt, runtime, backend, _), phases in sorted(_timing_groups(store).items()):
        if model not in models:
            continue
        if RUNTIMES[runtime].native:
            column, wanted = runtime, (native_phase,)
        else:
            column = f"{runtime}/{backend_label(backend, renderers.get((runtime, backend), ''))}"
            if fmt.endswith(("-f16", "-u8", "-8bit")):
                column += f" {fmt}"
            wanted = browser_phases
        if not all(p in phases for p in wanted):
            continue
        values[(model, column)] = sum(phases[p][0].median for p in wanted)
        if column not in columns:
            columns.append(column)
    columns.sort(key=lambda c: (c not in RUNTIMES or not RUNTIMES[c].native, c))
    return columns, values


def figure_table(store: Store, figure: str) -> Table | None:
    """Figs. 2–4: DNN depth × width rows, runtime/backend columns, median ms."""
    title, browser_phases, native_phase = FIGURES[figure]
    models = sorted({r["model"] for r in store.rows() if _DNN.fullmatch(r["model"])},
                    key=lambda m: tuple(int(x) for x in _DNN.fullmatch(m).groups()))
    columns, values = _series(store, browser_phases, native_phase, models)
    if not values:
        return None
    table = Table(title=f"{title}: median ms, DNN depth × width", title_justify="left")
    table.add_column("depth", justify="right")
    table.add_column("width", justify="right")
    for column in columns:
        table.add_column(column, justify="right")
    for model in models:
        if not any((model, c) in values for c in columns):
            continue
        depth, width = _DNN.fullmatch(model).groups()
        table.add_row(depth, width, *[f"{values[(model, c)]:.3g}" if (model, c) in values else "—"
                                      for c in columns])
    return table


def fig5_table(store: Store) -> Table | None:
    """Fig. 5: the Keras applications' single-sample inference per runtime, native beside."""
    present = {r["model"] for r in store.rows()}
    models = [m for m in APPLICATIONS if m in present]
    columns, values = _series(store, ("inference",), "inference", models)
    if not values:
        return None
    table = Table(title="Fig. 5 — Keras applications, inference of one image: median ms",
                  title_justify="left")
    table.add_column("model")
    for column in columns:
        table.add_column(column, justify="right")
    for model in models:
        table.add_row(model, *[f"{values[(model, c)]:.3g}" if (model, c) in values else "—"
                               for c in columns])
    return table
