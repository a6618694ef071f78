"""The report's tables, built from a store holding a small real sweep."""

import csv

import pytest
from conftest import copy_of, run_cli

from browserdl.reports import csv_tables, paper_tables, report
from browserdl.reports.frame import Frame
from browserdl.results.store import Store


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, small_sweep):
    return copy_of(small_sweep, tmp_path_factory, "report")


def _frame(sweep) -> Frame:
    with Store(sweep / "results.sqlite") as store:
        return Frame.load(store)


def _cells(table, column):
    return table.column(column)


def test_table1_lists_each_runtime_with_what_worked(sweep):
    table = paper_tables.table1(_frame(sweep))
    assert table.headers == [
        "runtime", "library", "library bytes", "backends that worked", "formats", "training",
        "parity (ok / checked)"]
    assert _cells(table, "runtime") == ["convnetjs", "native", "tfjs"]
    backends = dict(zip(_cells(table, "runtime"), _cells(table, "backends that worked"), strict=True))
    assert backends == {"convnetjs": "cpu", "native": "cpu", "tfjs": "cpu, webgl (software GPU)"}
    library = dict(zip(_cells(table, "runtime"), _cells(table, "library"), strict=True))
    assert library["tfjs"] == "@tensorflow/tfjs@4.22.0" and library["native"].startswith("tensorflow 2.")
    sizes = dict(zip(_cells(table, "runtime"), _cells(table, "library bytes"), strict=True))
    assert sizes["tfjs"].endswith("MiB") and sizes["convnetjs"].endswith("KiB")
    assert set(_cells(table, "parity (ok / checked)")) == {"1 / 1"}


def test_figures_2_to_4_are_runtime_by_depth_by_width(sweep):
    frame = _frame(sweep)
    for figure in ("fig2", "fig3", "fig4"):
        table = paper_tables.figure_table(frame, figure)
        assert table.headers == ["runtime/backend", "depth", "width 64"], figure
        assert _cells(table, "runtime/backend") == ["native", "convnetjs/cpu", "tfjs/cpu",
                                                    "tfjs/webgl (software GPU)"], figure
        assert _cells(table, "depth") == ["1"] * 4
        assert all(float(v.replace(",", "")) > 0 for v in _cells(table, "width 64"))  # 1,092 ms
    assert paper_tables.fig5_table(frame) is None  # no Keras application measured


def test_csv_export_writes_trials_and_every_table(sweep, tmp_path):
    ran = run_cli(sweep, "report", "--csv", str(tmp_path / "csv"))
    assert ran.code == 0, ran.err
    for title in ("Table 1", "Fig. 2", "Fig. 3", "Fig. 4", "Browser ÷ native", "Table 3"):
        assert title in ran.out
    files = {p.name for p in (tmp_path / "csv").iterdir()}
    assert "trials.csv" in files and "table-1-the-frameworks-as-found-here.csv" in files
    with open(tmp_path / "csv" / "table-1-the-frameworks-as-found-here.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "runtime" and [r[0] for r in rows[1:]] == ["convnetjs", "native", "tfjs"]
    frame = _frame(sweep)
    every = report.all_tables(frame)
    assert len(every) >= 10
    n_rows = len(frame.rows)
    for table in every:  # each file holds its table's data, cell for cell
        with open(tmp_path / "csv" / f"{csv_tables.slug(table.title)}.csv", newline="") as f:
            assert list(csv.reader(f)) == [table.headers, *table.rows], table.title
    assert "…" not in ran.out
    with open(tmp_path / "csv" / "trials.csv") as f:
        assert sum(1 for _ in csv.DictReader(f)) == n_rows


def test_report_on_an_empty_or_missing_store_is_one_line(tmp_path):
    ran = run_cli(tmp_path / "none", "report")
    assert ran.code == 2 and len(ran.err_lines) == 1 and "no results" in ran.err
    (tmp_path / "empty").mkdir()
    Store(tmp_path / "empty" / "results.sqlite").close()  # a store with no rows
    ran = run_cli(tmp_path / "empty", "report")
    assert ran.code == 2 and len(ran.err_lines) == 1 and "is empty" in ran.err
