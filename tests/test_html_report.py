"""Plots and the self-contained HTML report, built from a small real sweep and opened in the
real headless Chromium from disk."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_of, trial_key

from browserdl.reports import html, loading_tables, tables
from browserdl.reports.frame import Frame
from browserdl.reports.html import write_report
from browserdl.reports.plots import _collect, _series, render_all
from browserdl.results.records import Phase, TrialResult
from browserdl.results.store import Store

pytestmark = pytest.mark.browser

PHASE_FIGURES = ["fig2-loading", "fig3-warmup", "fig4-inference", "ratio-browser-native"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, small_sweep) -> Path:
    """The shared small real sweep (conftest.small_sweep): native, tfjs cpu + webgl, convnetjs."""
    return copy_of(small_sweep, tmp_path_factory, "report") / "results.sqlite"


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    with Store(sweep) as store:
        frame = Frame.load(store)
    figures = render_all(frame, out)
    made = [tables.models_table(frame), tables.native_table(frame),
            loading_tables.browser_table(frame), loading_tables.ratio_table(frame)]
    made = [t for t in made if t is not None]
    page = write_report(frame, out, figures, made,
                        [("Findings", "<p id='findings-body'>caller's own HTML</p>")])
    return page, figures, made


def test_figures_drawn_from_the_store(report, sweep):
    _, figures, _ = report
    assert [f.name for f in figures] == PHASE_FIGURES  # no Keras application here: no Fig. 5
    for figure in figures:
        assert figure.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.png.stat().st_size > 10_000
        svg = figure.svg.read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert figure.caption and figure.title
    svg = {f.name: f.svg.read_text() for f in figures}
    # the series drawn, labelled as the reader needs: SwiftShader WebGL is a software GPU
    native = "native (fastest call, 1 thread)"  # one native series: the reference ratios use
    for label in (native, "tfjs/cpu", "convnetjs/cpu", "tfjs/webgl (software GPU)", "dnn-d1-w64"):
        assert label in svg["fig4-inference"], label
    assert native not in svg["ratio-browser-native"]  # ratios are browser ÷ native
    # the bars' medians are the same numbers the tables print: inference pools every run
    with Store(sweep) as store:
        frame = Frame.load(store)
    trials, _ = _collect(frame)
    summaries = {(g.format, g.runtime, g.backend): p for g, p in frame.summaries.items()
                 if g.model == "dnn-d1-w64" and g.settings == (("cache", "cold"),)}
    inference = _series(trials, ("inference",), "inference", pool=True)
    series = {(k.runtime, k.backend, k.settings): k for k in inference}
    cold = (("cache", "cold"),)
    for runtime, backend, fmt in (("tfjs", "cpu", "tfjs-layers"), ("convnetjs", "cpu", "convnetjs")):
        values = inference[series[(runtime, backend, cold)]]["dnn-d1-w64"]
        assert len(values) == 2 * 5
        summary = summaries[(fmt, runtime, backend)]["inference"][0]
        assert np.median(values) == pytest.approx(summary.median)
    (native_key,) = [k for k in inference if k.runtime == "native"]
    reference = frame.native_reference("dnn-d1-w64", "native", "1")
    assert native_key.settings == (("threads", "1"),) and reference.group.get("threads") == "1"
    assert np.median(inference[native_key]["dnn-d1-w64"]) == pytest.approx(
        reference.phases["inference"][0].median)
    loading = _series(trials, ("library", "download", "parse", "build"), "load")
    tfjs_cold = loading[series[("tfjs", "cpu", cold)]]["dnn-d1-w64"]
    assert len(tfjs_cold) == 2  # one sum per trial
    assert np.median(tfjs_cold) > summaries[("tfjs-layers", "tfjs", "cpu")]["library"][0].p10


def test_page_is_self_contained(report):
    page, figures, made = report
    text = page.read_text(encoding="utf-8")
    for banned in ("http://", "https://", "//cdn", "<script", "<link", "src=\"/", "src='/"):
        assert banned not in text.lower(), banned
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) == len(figures)
    for title in ("Summary", "Environment", "Method", "Tables", "Figures", "Findings"):
        assert f"<h2>{title}</h2>" in text
    assert text.count("<table") == len(made) + 2  # + the environment and its targets
    assert '<table id="targets">' in text and "chromium" in text
    assert text.count('<div class="scroll" style="overflow-x:auto">') == len(made)
    for table in made:  # the same cells as the terminal and the CSV files
        assert all(html._cell(cell) in text for row in table.rows for cell in row), table.title
    assert "SwiftShader" in text and "software GPU" in text
    assert "<p id='findings-body'>caller's own HTML</p>" in text  # extra sections go in as given
    assert "dnn-d1-w64" in text and "tfjs/webgl (software GPU)" in text


def test_opens_from_disk_in_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright

    from browserdl.loaders.browser import launch

    page_path, figures, made = report
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.evaluate("""() => [...document.images].map(i => ({
                done: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                box: i.getBoundingClientRect().width}))""")
            svgs = page.evaluate("""() => [...document.querySelectorAll('svg')].map(s => {
                const b = s.getBoundingClientRect(); return b.width * b.height; })""")
            captions = [page.locator("caption").nth(i) for i in range(page.locator("caption").count())]
            visible = [c.inner_text() for c in captions if c.is_visible()]
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert len(images) == len(figures) == 4
    assert all(i["done"] and i["w"] > 100 and i["h"] > 100 and i["box"] > 0 for i in images), images
    assert all(area > 0 for area in svgs)
    assert len(visible) == len(made)
    assert visible[0].startswith("Reference models")
    assert any(v.startswith("Browser ÷ native") for v in visible)
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert shot.stat().st_size > 50_000


def test_store_text_is_escaped(sweep, tmp_path):
    copy = tmp_path / "results.sqlite"
    shutil.copy(sweep, copy)
    with Store(copy) as store:
        failed = sum(1 for r in store.rows() if not r["ok"])
        key = trial_key("dnn-d1-w64", "tfjs-layers", "tfjs", "cpu", "cache=cold", 99)
        store.record(key, TrialResult(False, [Phase("library", 1.0)], error="<script>alert(1)</script>"),
                     None)
        frame = Frame.load(store)
    failures = tables.failures_table(frame)
    text = write_report(frame, tmp_path / "out", [], [failures]).read_text()
    assert "<script" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert f"{failed + 1} failed" in text
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in text  # in the failures table too


def test_empty_store(tmp_path):
    with Store(tmp_path / "empty.sqlite") as store:
        frame = Frame.load(store)
    assert render_all(frame, tmp_path / "out") == []
    page = write_report(frame, tmp_path / "out", [], [])
    text = page.read_text()
    assert page.name == "index.html" and "No data" in text and "<img" not in text
    assert not list((tmp_path / "out").glob("*.png"))
