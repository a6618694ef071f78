"""Everything `browserdl report` shows, assembled from the store alone: tables, plots, HTML."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from browserdl.reports import (
    findings,
    format_tables,
    loading_tables,
    network_tables,
    paper_tables,
    tables,
    training_tables,
    tree,
)
from browserdl.results.store import Store


def all_tables(store: Store) -> list[Table]:
    """Every table with data, in reading order."""
    candidates = [
        tables.models_table(store), paper_tables.table1(store),
        format_tables.conversions_table(store), format_tables.table3(store),
        format_tables.encoding_ratios(store), tables.native_table(store),
        loading_tables.browser_table(store),
        *(paper_tables.figure_table(store, f) for f in paper_tables.FIGURES),
        paper_tables.fig5_table(store), loading_tables.ratio_table(store),
        network_tables.ttfp_table(store), network_tables.accuracy_table(store),
        *training_tables.all_training_tables(store),
        tree.importance_table(tree.decision_trees(store)),
        findings.findings_table(findings.evaluate(store)),
        tables.failures_table(store),
    ]
    return [t for t in candidates if t is not None and t.row_count]


def training_summary(store: Store) -> list[Table]:
    """What `measure training` ends with: Fig. 1, the ratios, Table 2, the losses, n/a."""
    return [t for t in training_tables.all_training_tables(store) if t is not None and t.row_count]


def summary_tables(store: Store) -> list[Table]:
    """What `study` ends with: the frameworks, sizes, inference and the browser/native ratio."""
    candidates = [paper_tables.table1(store), format_tables.table3(store),
                  format_tables.encoding_ratios(store), paper_tables.figure_table(store, "fig4"),
                  loading_tables.ratio_table(store), training_tables.fig1_table(store),
                  training_tables.training_ratio_table(store), training_tables.table2(store),
                  network_tables.ttfp_table(store), network_tables.accuracy_table(store),
                  findings.findings_table(findings.evaluate(store)), tables.failures_table(store)]
    return [t for t in candidates if t is not None and t.row_count]


def write_csv(store: Store, folder: Path) -> list[Path]:
    from browserdl.reports.csv_tables import write_all

    return write_all(store, all_tables(store), folder)


def write_html(store: Store, out_dir: Path) -> Path:
    """workspace/report/index.html: tables, plots (PNG + SVG beside it), decision trees and
    findings, one self-contained file."""
    from html import escape

    from browserdl.reports import html, plots

    figures = plots.render_all(store, out_dir / "figures")
    trees = tree.decision_trees(store)
    tree_sections = []
    for result in trees:
        drawn = tree.tree_figure(result, out_dir / "figures")
        if drawn is not None:
            png, svg = drawn
            figures.append(plots.Figure(
                f"fig6-{result.network}", f"Fig. 6 — decision tree, {result.network.upper()}",
                "log(browser ÷ native time) predicted from backend, task, depth and width; "
                "leaves show the ratio", png, svg))
        body = result.text if result.enough else result.message
        tree_sections.append(f"<h3>{escape(result.network.upper())}</h3><pre>{escape(body)}</pre>")
    extra = [("Decision trees (Fig. 6)", "\n".join(tree_sections))]
    return html.write_report(store, out_dir, figures, all_tables(store), extra)
