"""Tables about the converted files: conversion and parity outcomes, and the paper's Table 3."""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

from rich.table import Table

from browserdl.reports.tables import fmt_value
from browserdl.results.store import Store

BINARY_BASELINE = "tfjs-layers"  # the paper compares JSON encodings with TF.js's binary weights
_DNN = re.compile(r"dnn-d(\d+)-w(\d+)")


def _parity_cell(row: dict) -> str:
    status = row["status"]
    if status == "ok":
        return f"[green]ok[/] {row['max_diff']:.1e}"
    if status == "n/a":
        return f"[dim]n/a: {row['reason']}[/]"
    if status == "not installed":
        return f"[yellow]runtime not installed[/] ({row['reason']})"
    if status == "unverified":
        return "[dim]not verified (--no-verify)[/]"
    return f"[red]FAILED[/]: {row['reason']}"


def conversions_table(store: Store, models: list[str] | None = None) -> Table | None:
    rows = [r for r in store.conversions() if models is None or r["model"] in models]
    if not rows:
        return None
    table = Table(title="Conversions: each file loaded by the framework's own library, outputs vs "
                  "Keras on the fixed test batch (max |diff|)", title_justify="left")
    for column, justify in (("model", "left"), ("format", "left"), ("runtime/backend", "left"),
                            ("files", "right"), ("bytes", "right"), ("parity", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    previous = None
    for r in rows:
        if previous is not None and r["model"] != previous:
            table.add_section()
        previous = r["model"]
        table.add_row(r["model"], r["format"], f"{r['runtime']}/{r['backend']}",
                      "" if r["files"] is None else str(r["files"]),
                      "" if r["bytes"] is None else f"{r['bytes']:,}", _parity_cell(r))
    return table


def _sizes(store: Store) -> dict[tuple[str, str], dict[str, float]]:
    """(model, format) -> {size_raw, size_gzip, size_brotli, files}."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in store.rows():
        if row["setting"] == "sizes" and row["ok"] and row["phase"]:
            out[(row["model"], row["format"])][row["phase"]] = row["value"]
    return out


def table3(store: Store) -> Table | None:
    """The paper's Table 3, one row per format (14 formats don't fit as columns): model file
    size in MB for each depth × width of the DNN grid present."""
    sizes = _sizes(store)
    grid = sorted({(int(m[1]), int(m[2]), model) for model, _ in sizes
                   if (m := _DNN.fullmatch(model))})
    if not grid:
        return None
    table = Table(title="Table 3: size of model files (MB = 10^6 bytes, every file a loader "
                  "fetches), DNN depth × width", title_justify="left")
    table.add_column("format")
    for depth, width, _ in grid:
        table.add_column(f"{depth}×{width}", justify="right")
    paper = _paper_table3()
    for fmt in sorted({f for _, f in sizes}):
        cells = [f"{sizes[(model, fmt)]['size_raw'] / 1e6:.2f}" if (model, fmt) in sizes else "—"
                 for _, _, model in grid]
        table.add_row(fmt, *cells)
        if any((fmt, d, w) in paper for d, w, _ in grid):  # the paper's own number beneath ours
            table.add_row("[dim]  paper (Table 3)[/]", *[
                f"[dim]{paper[(fmt, d, w)]:.1f}[/]" if (fmt, d, w) in paper else "" for d, w, _ in grid])
    return table


def _paper_table3() -> dict[tuple[str, int, int], float]:
    """(format, depth, width) -> MB, from paper_numbers.json (which cites each cell's line)."""
    numbers = json.loads((Path(__file__).parent / "paper_numbers.json").read_text())
    return {(r["format"], r["depth"], r["width"]): r["mb"]
            for r in numbers["table3_file_sizes_mb"]["rows"]}


def encoding_ratios(store: Store) -> Table | None:
    """Each format's size relative to TF.js's binary, raw and compressed (median over models)."""
    sizes = _sizes(store)
    models = {m for m, _ in sizes}
    base = {m: sizes[(m, BINARY_BASELINE)] for m in models if (m, BINARY_BASELINE) in sizes}
    if not base:
        return None
    table = Table(title=f"Encodings: size ÷ {BINARY_BASELINE} binary (raw) — median over "
                  f"{len(base)} models; the paper reports JSON ≈ 7×", title_justify="left")
    for column in ("format", "models", "raw", "gzip", "brotli", "raw ÷ binary",
                   "gzip ÷ binary", "brotli ÷ binary"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for fmt in sorted({f for _, f in sizes}):
        pairs = [(sizes[(m, fmt)], base[m]) for m in base if (m, fmt) in sizes]
        if not pairs:
            continue

        def median_ratio(key: str, pairs: list = pairs) -> str:
            return f"{statistics.median(s[key] / b['size_raw'] for s, b in pairs):.2f}×"

        def median_size(key: str, pairs: list = pairs) -> str:
            return fmt_value(statistics.median(s[key] for s, _ in pairs), "bytes")

        table.add_row(fmt, str(len(pairs)), median_size("size_raw"), median_size("size_gzip"),
                      median_size("size_brotli"), median_ratio("size_raw"),
                      median_ratio("size_gzip"), median_ratio("size_brotli"))
    return table
