"""Tables about the converted files: conversion and parity outcomes, and the paper's Table 3."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from browserdl.reports.frame import Frame
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_value

BINARY_BASELINE = "tfjs-layers"  # the paper compares JSON encodings with TF.js's binary weights


def _parity_cell(row: dict) -> str:
    status = row["status"]
    if status == "ok":
        return f"ok {row['max_diff']:.1e}"
    if status == "n/a":
        return f"n/a: {row['reason']}"
    if status == "not installed":
        return f"runtime not installed ({row['reason']})"
    if status == "unverified":
        return "not verified (--no-verify)"
    return f"FAILED: {row['reason']}"


def conversions_table(frame: Frame, models: list[str] | None = None) -> Table | None:
    rows = [r for r in frame.conversions if models is None or r["model"] in models]
    if not rows:
        return None
    table = Table("Conversions and parity", columns(
        "model", "format", "runtime/backend", "files", "bytes", "parity", right={"files", "bytes"}),
        notes=["Each file loaded by the framework's own library; parity = the largest |difference| "
               "from Keras's outputs on the fixed test batch."])
    previous = None
    for r in rows:
        if previous is not None and r["model"] != previous:
            table.end_section()
        previous = r["model"]
        table.add(r["model"], r["format"], f"{r['runtime']}/{r['backend']}",
                  "" if r["files"] is None else str(r["files"]),
                  "" if r["bytes"] is None else f"{r['bytes']:,}", _parity_cell(r))
    return table


def table3(frame: Frame) -> Table | None:
    """The paper's Table 3: model file size in MB per format (rows) and DNN depth (rows within),
    one column per width present; the paper's own number beside ours where it has one."""
    sizes = frame.sizes
    grid = {frame.model(m).grid: m for m, _ in sizes if frame.model(m).family == "dnn"}
    if not grid:
        return None
    depths = sorted({d for d, _ in grid})
    widths = sorted({w for _, w in grid})
    table = Table("Table 3 — size of model files, MB", columns(
        "format", "depth", *(f"width {w}" for w in widths), right={"depth", *(f"width {w}" for w in widths)}),
        notes=["MB = 10^6 bytes, every file a loader fetches, for each DNN depth × width measured; "
               "(paper n) = the paper's Table 3 for the same model."])
    paper = _paper_table3()
    for fmt in sorted({f for _, f in sizes}):
        for depth in depths:
            cells = []
            for width in widths:
                model = grid.get((depth, width))
                ours = frame.size(model, fmt) if model else None
                cell = "—" if ours is None else f"{ours / 1e6:.2f}"
                if (fmt, depth, width) in paper:
                    cell += f" (paper {paper[(fmt, depth, width)]:.1f})"
                cells.append(cell)
            if any(c != "—" for c in cells):
                table.add(fmt, str(depth), *cells)
        table.end_section()
    return table


def _paper_table3() -> dict[tuple[str, int, int], float]:
    """(format, depth, width) -> MB, from paper_numbers.json (which cites each cell's line)."""
    numbers = json.loads((Path(__file__).parent / "paper_numbers.json").read_text())
    return {(r["format"], r["depth"], r["width"]): r["mb"]
            for r in numbers["table3_file_sizes_mb"]["rows"]}


def encoding_ratios(frame: Frame) -> Table | None:
    """Each format's size relative to TF.js's binary, raw and compressed (median over models)."""
    sizes = frame.sizes
    models = {m for m, _ in sizes}
    base = {m: sizes[(m, BINARY_BASELINE)] for m in models if (m, BINARY_BASELINE) in sizes}
    if not base:
        return None
    table = Table(f"Encodings: size ÷ {BINARY_BASELINE} binary", columns(
        "format", "models", "raw", "gzip", "brotli", "raw ÷ binary", "gzip ÷ binary",
        "brotli ÷ binary", right={"models", "raw", "gzip", "brotli", "raw ÷ binary",
                                  "gzip ÷ binary", "brotli ÷ binary"}),
        notes=[f"Median over the {len(base)} models measured in both; ÷ binary = the size (raw, gzip, "
               f"brotli) ÷ the raw size of {BINARY_BASELINE}. The paper reports JSON ≈ 7×."])
    for fmt in sorted({f for _, f in sizes}):
        pairs = [(sizes[(m, fmt)], base[m]) for m in base if (m, fmt) in sizes]
        if not pairs:
            continue

        def median_ratio(key: str, pairs: list = pairs) -> str:
            return f"{statistics.median(s[key] / b['size_raw'] for s, b in pairs):.2f}×"

        def median_size(key: str, pairs: list = pairs) -> str:
            return fmt_value(statistics.median(s[key] for s, _ in pairs), "bytes")

        table.add(fmt, str(len(pairs)), median_size("size_raw"), median_size("size_gzip"),
                  median_size("size_brotli"), median_ratio("size_raw"),
                  median_ratio("size_gzip"), median_ratio("size_brotli"))
    return table
