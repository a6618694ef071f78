"""Everything `browserdl report` shows, assembled from one Frame (the store read once): tables,
plots, HTML, CSV."""

from __future__ import annotations

from pathlib import Path

from browserdl.reports import (
    engine_tables,
    findings,
    format_tables,
    loading_tables,
    network_tables,
    paper_tables,
    tables,
    training_tables,
    tree,
    your_model,
)
from browserdl.reports.frame import Frame
from browserdl.reports.table import Table


def _with_rows(candidates: list[Table | None]) -> list[Table]:
    return [t for t in candidates if t is not None and t.rows]


def all_tables(frame: Frame) -> list[Table]:
    """Every table with data, in reading order."""
    return _with_rows([
        tables.models_table(frame), *your_model.your_model_tables(frame),
        paper_tables.table1(frame), engine_tables.table1_targets(frame),
        format_tables.conversions_table(frame), format_tables.table3(frame),
        format_tables.encoding_ratios(frame), tables.native_table(frame),
        tables.native_calls_table(frame), loading_tables.browser_table(frame),
        loading_tables.browser_use_table(frame),
        *(paper_tables.figure_table(frame, f) for f in paper_tables.FIGURES),
        paper_tables.fig5_table(frame), loading_tables.ratio_table(frame),
        engine_tables.cross_engine_table(frame),
        network_tables.ttfp_table(frame), network_tables.accuracy_table(frame),
        *training_tables.all_training_tables(frame),
        tree.importance_table(tree.decision_trees(frame)),
        findings.findings_table(findings.evaluate(frame)), engine_tables.findings_by_target(frame),
        tables.failures_table(frame), tables.targets_table(frame),
        tables.older_protocols_table(frame),
    ])


def summary_tables(frame: Frame) -> list[Table]:
    """What `study` ends with: the frameworks, sizes, inference and the browser/native ratio."""
    return _with_rows([
        *your_model.your_model_tables(frame),
        paper_tables.table1(frame), format_tables.table3(frame), format_tables.encoding_ratios(frame),
        paper_tables.figure_table(frame, "fig4"), tables.native_calls_table(frame),
        loading_tables.ratio_table(frame), engine_tables.cross_engine_table(frame),
        training_tables.fig1_table(frame),
        training_tables.training_ratio_table(frame),
        training_tables.table2(frame), network_tables.ttfp_table(frame),
        network_tables.accuracy_table(frame), findings.findings_table(findings.evaluate(frame)),
        tables.failures_table(frame), tables.targets_table(frame),
        tables.older_protocols_table(frame)])


def write_csv(frame: Frame, folder: Path, tables_: list[Table] | None = None) -> list[Path]:
    """trials.csv and one CSV per table (`tables_`, by default every table) into `folder`."""
    from browserdl.reports.csv_tables import write_all

    return write_all(frame, all_tables(frame) if tables_ is None else tables_, folder)


def write_html(frame: Frame, out_dir: Path) -> Path:
    """workspace/report/index.html: tables, plots (PNG + SVG beside it), decision trees and
    findings, one self-contained file."""
    from html import escape

    from browserdl.reports import html, plots

    figures = plots.render_all(frame, out_dir / "figures")
    tree_sections = []
    for result in tree.decision_trees(frame):
        drawn = tree.tree_figure(result, out_dir / "figures")
        if drawn is not None:
            png, svg = drawn
            figures.append(plots.Figure(
                f"fig6-{result.network}", f"Fig. 6 — decision tree, {result.network.upper()}",
                "log(browser ÷ native time) predicted from backend, task, depth and width; "
                "leaves show the ratio. " + tree.BASELINE_NOTE, png, svg))
        body = result.text if result.enough else result.message
        tree_sections.append(f"<h3>{escape(result.network.upper())}</h3><pre>{escape(body)}</pre>")
    extra = [("Decision trees (Fig. 6)", "\n".join(tree_sections))]
    return html.write_report(frame, out_dir, figures, all_tables(frame), extra)
