"""The cross-engine report from a synthetic store (no browser runs): the same files on chromium,
firefox and webkit, a backend that failed on one engine, a finding whose verdict differs."""

from __future__ import annotations

import io
import random

import pytest
from conftest import trial_key
from rich.console import Console

from browserdl.reports import engine_tables, plots, render_terminal, report
from browserdl.reports.frame import Frame
from browserdl.results.records import Phase, TrialResult
from browserdl.results.store import Store

# (runtime, backend, format) × target -> inference ms; firefox 2× chromium, webkit 0.5×
COMBOS = [("tfjs", "cpu", "tfjs-layers"), ("tfjs", "wasm", "tfjs-layers"), ("brainjs", "cpu", "brainjs")]
SPEED = {"chromium": 1.0, "firefox": 2.0, "webkit": 0.5}
CPU = {"chromium": 97.0, "firefox": 250.0, "webkit": 110.0}  # finding 8's rule: < 200 %


def _phases(rng: random.Random, target: str) -> list[Phase]:
    speed = SPEED[target]
    return [Phase("library", 300.0 * speed), Phase("download", 10.0), Phase("parse", 2.0 * speed),
            Phase("build", 8.0 * speed), Phase("warmup", 20.0 * speed),
            Phase("inference", 1.0 * speed, "ms", [speed * rng.uniform(0.99, 1.01) for _ in range(9)]),
            Phase("cpu_inference", CPU[target], "%")]


@pytest.fixture(scope="module")
def frame(tmp_path_factory) -> Frame:
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("engines") / "results.sqlite"
    with Store(path) as store:
        env = store.environment_id({"browser": "several"})
        for target in SPEED:
            for runtime, backend, fmt in COMBOS:
                for trial in range(2):
                    store.record(trial_key("dnn-d1-w64", fmt, runtime, backend, "cache=cold", trial,
                                           target=target), TrialResult(True, _phases(rng, target)), env)
            store.record(trial_key("dnn-d1-w64", "tfjs-layers", "tfjs", "webgpu", "cache=cold", 0,
                                   target=target),
                         TrialResult(target == "chromium", _phases(rng, target) if target == "chromium"
                                     else [], None if target == "chromium" else "no WebGPU"), env)
        return Frame.load(store)


def test_each_phase_beside_chromium_on_every_target(frame):
    rows = engine_tables.cross_engine_rows(frame)
    assert {(r["group"].runtime, r["group"].backend, r["target"]) for r in rows} == {
        (r, b, t) for r, b, _ in COMBOS for t in SPEED}
    for row in rows:
        if row["target"] == "chromium":
            assert row["ratios"] == {}
            continue
        for phase in ("library", "parse", "build", "warmup", "inference"):
            assert row["ratios"][phase] == pytest.approx(SPEED[row["target"]], rel=0.02), (row, phase)
        assert row["ratios"]["download"] == pytest.approx(1.0)
    table = engine_tables.cross_engine_table(frame)
    firefox = next(r for r in table.rows if r[1] == "tfjs/wasm" and r[2] == "firefox")
    assert firefox[3] == "600 ms (2×)" and firefox[-1].endswith("(2×)")
    assert [r[2] for r in table.rows[:3]] == ["chromium", "firefox", "webkit"]  # reference first


def test_table1_per_target_and_the_findings_that_differ(frame):
    table = engine_tables.table1_targets(frame)
    assert [c.name for c in table.columns] == ["runtime", "chromium", "firefox", "webkit"]
    tfjs = next(r for r in table.rows if r[0] == "tfjs")
    assert tfjs[1] == "cpu, wasm, webgpu" and tfjs[2] == "cpu, wasm (failed: webgpu)"
    differing = engine_tables.findings_by_target(frame)
    eight = [r for r in differing.rows if r[0] == "8"]
    assert {r[2] for r in eight} == set(SPEED)  # every target's verdict, where they differ
    verdicts = {r[2]: r[3] for r in eight}
    assert verdicts["firefox"] != verdicts["chromium"] == verdicts["webkit"]
    assert all(len({r[3] for r in differing.rows if r[0] == n}) > 1 for n in {r[0] for r in differing.rows})


def test_the_engine_tables_fit_and_the_figures_are_drawn(frame, tmp_path):
    made = report.all_tables(frame)
    titles = [t.title for t in made]
    for expected in ("Across engines", "Table 1 per target", "where the engines disagree"):
        assert any(expected in t for t in titles), expected
    for table in made:
        console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
        render_terminal.print_tables(console, [table])
        text = console.export_text()
        assert "…" not in text and all(len(line) <= 120 for line in text.splitlines()), table.title
    figures = {f.name: f for f in plots.render_all(frame, tmp_path)}
    assert figures["engines-inference"].png.stat().st_size > 10_000
    assert figures["engines-loading"].svg.stat().st_size > 5_000


def test_one_target_draws_no_engine_table(tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        store.record(trial_key("dnn-d1-w64", "tfjs-layers", "tfjs", "cpu", "cache=cold", 0),
                     TrialResult(True, _phases(random.Random(1), "chromium")), None)
        frame = Frame.load(store)
    assert engine_tables.cross_engine_table(frame) is None
    assert engine_tables.table1_targets(frame) is None and engine_tables.findings_by_target(frame) is None


def test_accuracy_of_a_browser_format_is_kept_per_engine(tmp_path):
    from browserdl.reports import network_tables

    with Store(tmp_path / "results.sqlite") as store:
        for target, accuracy in (("chromium", 0.91), ("webkit", 0.42)):  # e.g. a GL bug there
            store.record(trial_key("dnn-d1-w64", "webdnn-webgl", "webdnn", "webgl", "accuracy", 0,
                                   target=target),
                         TrialResult(True, [Phase("accuracy", accuracy, "fraction"),
                                            Phase("n", 2000, "digits")]), None)
        frame = Frame.load(store)
    rows = {r[1]: r[3] for r in network_tables.accuracy_table(frame).rows}
    assert rows == {"webdnn-webgl on chromium": "91.00%", "webdnn-webgl on webkit": "42.00%"}
    assert frame.accuracy[("dnn-d1-w64", "webdnn-webgl")]["accuracy"] == 0.91  # the reference
