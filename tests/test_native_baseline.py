"""Which native trial a browser ÷ native ratio divides by: the fastest call at the browser
trial's thread count. UNIT TEST OF THE SELECTION CODE ONLY — the stores here hold made-up rows,
not measurements (test_native.py and test_onnx.py measure)."""

from __future__ import annotations

from pathlib import Path

from browserdl.reports.frame import Frame
from browserdl.reports.loading_tables import ratio_table, ratios
from browserdl.reports.tables import native_calls_table
from browserdl.reports.training_tables import training_ratio_table, training_ratios
from browserdl.results.records import Kind, Phase, Target, TrialKey, TrialResult, settings
from browserdl.results.store import Store

MODEL = "dnn-d1-w64"
NATIVE = Target.of("native", {"host": "here"})
CHROMIUM = Target.of("chromium", {"engine": "chromium"})
# (call, threads) -> steady inference ms: graph wins at 1 thread, xla at every core
NATIVE_INFERENCE = {("graph", "1"): 0.3, ("direct", "1"): 1.0, ("graph", "all"): 0.25,
                    ("xla", "all"): 0.2, ("direct", "all"): 0.9}


def _record(store: Store, key: TrialKey, phases: dict[str, float], detail: dict | None = None) -> None:
    store.record(key, TrialResult(True, [Phase(k, v, "ms", [v]) for k, v in phases.items()],
                                  detail=detail or {}), None)


def _frame(path: Path) -> Frame:
    with Store(path) as store:
        for (call, threads), ms in NATIVE_INFERENCE.items():
            key = TrialKey(MODEL, "keras-h5", "native", "cpu", Kind.LOAD,
                           settings(call=call, batch=32, threads=threads), 0, NATIVE, "test")
            _record(store, key, {"tf_import": 900.0, "load": 50.0, "warmup": 5.0, "inference": ms,
                                 "batch_inference": 10 * ms})
        for backend, threads, ms in (("cpu", 1, 3.0), ("wasm", 2, 1.0)):
            key = TrialKey(MODEL, "tfjs-layers", "tfjs", backend, Kind.LOAD, settings(cache="cold"), 0,
                           CHROMIUM, "test")
            _record(store, key, {"library": 100.0, "download": 1.0, "parse": 1.0, "build": 1.0,
                                 "warmup": 10.0, "inference": ms, "batch_inference": 10 * ms},
                    {"threads": threads})
        train = {"optimizer": "sgd", "lr": "0.001", "batch": 64, "batches": 10}
        for threads, ms in (("1", 10.0), ("all", 5.0)):
            key = TrialKey(MODEL, "keras-h5", "native", "cpu", Kind.TRAIN,
                           settings(train, threads=threads), 0, NATIVE, "test")
            _record(store, key, {"train_batch": ms}, {"train_step": "graph: a tf.function"})
        key = TrialKey(MODEL, "tfjs-layers", "tfjs", "cpu", Kind.TRAIN, settings(train), 0, CHROMIUM,
                       "test")
        _record(store, key, {"train_batch": 100.0}, {"threads": 1})
        return Frame.load(store)


def test_ratios_divide_by_the_fastest_call_at_the_browser_trials_thread_count(tmp_path: Path) -> None:
    frame = _frame(tmp_path / "synthetic.sqlite")
    rows = {r["backend"]: r for r in ratios(frame)}
    assert rows["cpu"]["baseline"] == "native graph, 1 thread"
    assert rows["cpu"]["inference"] == 3.0 / 0.3  # not ÷ direct (1.0) nor ÷ every core
    assert rows["wasm"]["baseline"] == "native xla, all threads"  # wasm threads: every core
    assert rows["wasm"]["inference"] == 1.0 / 0.2
    text = "\n".join(" ".join(row) for row in ratio_table(frame).rows)
    assert "native graph, 1 thread" in text and "native xla, all threads" in text

    (trained,) = training_ratios(frame)
    assert trained["baseline"] == "native train_on_batch, 1 thread" and trained["ratio"] == 100.0 / 10.0
    assert "graph: a tf.function" in " ".join(training_ratio_table(frame).notes)


def test_native_calls_table_shows_every_call_and_marks_the_ones_divided_by(tmp_path: Path) -> None:
    table = native_calls_table(_frame(tmp_path / "synthetic.sqlite"))
    cells = {(row[2], row[3]): row for row in table.rows}
    assert len(cells) == len(NATIVE_INFERENCE)
    marked = {key for key, row in cells.items() if row[-1] == "✓"}
    assert marked == {("1 thread", "graph"), ("all threads", "xla")}
    assert cells[("1 thread", "direct")][-2] == f"{1.0 / 0.3:.2f}×"  # ÷ the fastest at 1 thread
