"""ONNX: tf2onnx files judged by ONNX Runtime Web (Node and Chromium) and by native onnxruntime."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import run_cli

from browserdl.converter import FORMATS
from browserdl.converter.convert import Outcome, convert, read_source
from browserdl.loaders import native, native_worker
from browserdl.loaders.parity import BOUNDS, compare, in_browser, reference, verify
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.session import BrowserSession
from browserdl.workspace import Workspace

ORT_PHASES = {"library", "load", "warmup", "inference", "batch_warmup", "batch_inference", "peak_rss"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory, trained) -> Workspace:
    """dnn-d1-w64 (from the session) plus a small LSTM."""
    root = tmp_path_factory.mktemp("onnx")
    shutil.copytree(trained / "models", root / "models")
    ran = run_cli(root, "train", "--models", "rnn-l1-w8")
    assert ran.code == 0, ran.err
    return Workspace.open(root)


@pytest.fixture(scope="module")
def converted(ws):
    """Converts on first use; one conversion per (model, format) for the module."""
    done: dict[tuple[str, str], Outcome] = {}

    def get(model: str, fmt: str) -> Outcome:
        if (model, fmt) not in done:
            source, digest = read_source(ws, model)
            done[model, fmt] = convert(ws, source, FORMATS[fmt], digest)
        return done[model, fmt]

    return get


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.onnx")}


def _dims(value: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("model_id", ["dnn-d1-w64", "rnn-l1-w8"])
def test_onnx_has_a_named_batch_and_passes_parity_in_node(ws, converted, model_id):
    outcome = converted(model_id, "onnx")
    assert outcome.refused is None and outcome.manifest is not None
    fmt = FORMATS["onnx"]
    assert not in_browser(fmt)  # ort runs in Node: parity on its wasm backend there
    parity = verify(ws, fmt, outcome.folder)
    assert parity.ok, parity.message
    assert parity.max_diff <= 1e-4 and parity.argmax_equal == parity.n == 32
    model = onnx.load(outcome.folder / "model.onnx")
    onnx.checker.check_model(model)
    (given,), (produced,) = model.graph.input, model.graph.output
    assert given.name == "input" and _dims(given)[0] == "batch" and _dims(produced)[0] == "batch"
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {15}
    notes = " ".join(outcome.manifest.notes)
    assert "tf2onnx 1.17.0" in notes and "opset 15" in notes and "named 'batch'" in notes
    assert outcome.manifest.library == "onnxruntime-web@1.30.0" and outcome.manifest.runtime == "ort"


@pytest.mark.parametrize("model_id", ["dnn-d1-w64", "rnn-l1-w8"])
def test_native_onnxruntime_computes_what_keras_does(ws, converted, model_id):
    folder = converted(model_id, "onnx").folder
    ref = reference(ws, model_id)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": ref.inputs})[0]
    parity = compare(ref.outputs, got, BOUNDS["float32"])
    assert parity.ok and parity.max_diff <= 1e-4, parity.message


def test_conversion_is_byte_reproducible_in_one_process_and_across_processes(ws, converted):
    written = {}
    for model_id in ("dnn-d1-w64", "rnn-l1-w8"):  # tf2onnx named the LSTM's nodes differently each time
        folder = converted(model_id, "onnx").folder
        written[model_id] = _digests(folder)
        source, digest = read_source(ws, model_id)
        convert(ws, source, FORMATS["onnx"], digest, force=True)
        assert _digests(folder) == written[model_id], model_id
    ran = run_cli(ws.root, "convert", "all-formats", "--models", "dnn-d1-w64,rnn-l1-w8", "--formats",
                  "onnx", "--force", "--no-verify")  # a fresh process
    assert ran.code == 0, ran.err
    assert {m: _digests(ws.formats / m / "onnx") for m in written} == written


def test_onnx_webgl_refuses_recurrent_layers_and_leaves_nothing(converted, ws):
    outcome = converted("rnn-l1-w8", "onnx-webgl")
    assert outcome.manifest is None
    assert "layer lstm_1 (LSTM)" in outcome.refused and "webgl" in outcome.refused
    assert "unrecognized input" in outcome.refused  # ORT Web's own words for why
    assert not (ws.formats / "rnn-l1-w8" / "onnx-webgl").exists()


def test_dynamic_file_is_timed_on_every_backend_but_webgl():
    backends = RUNTIMES["ort"].backends
    assert FORMATS["onnx"].backends(backends) == ("wasm", "webgpu")
    assert FORMATS["onnx-webgl"].backends(backends) == ("webgl",)
    assert in_browser(FORMATS["onnx-webgl"])  # webgl: not in Node


@pytest.mark.browser
def test_onnx_webgl_writes_static_batches_and_verifies_in_the_browser(ws, converted):
    outcome = converted("dnn-d1-w64", "onnx-webgl")
    assert outcome.manifest is not None
    assert [f.name for f in outcome.manifest.files] == ["model-b1.onnx", "model-b32.onnx"]
    for batch in (1, 32):
        model = onnx.load(outcome.folder / f"model-b{batch}.onnx")
        assert _dims(model.graph.input[0]) == [batch, 784] and _dims(model.graph.output[0]) == [batch, 10]
    parity = verify(ws, FORMATS["onnx-webgl"], outcome.folder)  # no session given: it opens one
    assert parity.ok and parity.max_diff <= 1e-4 and parity.argmax_equal == 32, parity.message


@pytest.mark.browser
def test_ort_web_runs_each_backend_in_chromium_within_parity(ws, converted):
    ref = reference(ws, "dnn-d1-w64")
    runs = [("onnx", "wasm"), ("onnx", "webgpu"), ("onnx-webgl", "webgl")]
    with BrowserSession(ws) as session:
        for fmt, backend in runs:
            folder = converted("dnn-d1-w64", fmt).folder
            request = {"adapter": "ort", "backend": backend, "formatUrl": session.url(folder),
                       "inputUrl": session.url(ref.input_path), "shape": list(ref.inputs.shape)}
            got = session.run(**request)
            assert got["backend"] == backend and got["shape"] == [32, 10] and not got["page_errors"]
            parity = compare(ref.outputs, np.asarray(got["output"], dtype=np.float32), BOUNDS["float32"])
            assert parity.ok and parity.max_diff <= 1e-4, (fmt, backend, parity.message)
            assert all(got["phases"][p] > 0 for p in ("library", "download", "build")), (fmt, got["phases"])
        # single-sample runs take model-b1.onnx, batch runs model-b32.onnx
        timed = session.measure({**request, "runs": 3, "batchRuns": 2}, timeout_s=120)
        assert timed["backend"] == "webgl" and len(timed["samples"]["inference"]) == 3
        assert timed["phases"]["warmup"] > 0 and timed["phases"]["batch_warmup"] > 0
        assert compare(ref.outputs, np.asarray(timed["output"], dtype=np.float32), BOUNDS["float32"]).ok
        # a batch with no file of its own (33 = 32 + 1) runs in chunks of the static batches
        odd = ws.cache / "onnx-33-rows.bin"
        np.concatenate([ref.inputs, ref.inputs[:1]]).astype("<f4").tofile(odd)
        got = session.run(**{**request, "inputUrl": session.url(odd), "shape": [33, 784]})
        expected = np.concatenate([ref.outputs, ref.outputs[:1]])
        assert got["shape"] == [33, 10]
        assert compare(expected, np.asarray(got["output"], dtype=np.float32), BOUNDS["float32"]).ok


def test_native_onnxruntime_trial_times_every_phase(ws, converted):
    converted("dnn-d1-w64", "onnx")
    options = native.NativeOptions(runs=10, threads=("1",))
    keys = native.keys(["dnn-d1-w64"], 2, options, runtime="ort-native")
    assert [(k.format, k.runtime, k.backend, k.setting) for k in keys] == [
        ("onnx", "ort-native", "cpu", "call=run,batch=32,threads=1")] * 2
    run = native.runner(ws, options)
    for key in keys:
        result, versions = run(key)
        assert result.ok, result.error
        phases = {p.name: p for p in result.phases}
        assert set(phases) == ORT_PHASES and all(p.value > 0 for p in phases.values())
        assert len(phases["inference"].samples) == 10 and phases["peak_rss"].unit == "bytes"
        assert phases["library"].value > phases["inference"].value
        assert versions["onnxruntime"] == "1.32.0"
    missing, _ = run(dataclasses.replace(keys[0], model="dnn-d9-w9"))
    assert not missing.ok and "--models dnn-d9-w9 --formats onnx" in missing.error


def test_native_keys_default_to_tensorflow():
    options = native.NativeOptions(calls=("predict",), batch=8, threads=("1",))
    (key,) = native.keys(["dnn-d1-w64"], 1, options)
    assert (key.format, key.runtime, key.setting) == ("keras-h5", "native", "call=predict,batch=8,threads=1")
    # every call, both thread counts: one key each, graph first (the default and the baseline)
    keys = native.keys(["dnn-d1-w64"], 1, native.NativeOptions(calls=native_worker.CALLS))
    assert [k.setting for k in keys][:2] == ["call=graph,batch=32,threads=1", "call=xla,batch=32,threads=1"]
    assert len(keys) == 8 and {dict(k.settings)["threads"] for k in keys} == {"1", "all"}
    # onnxruntime has one call, whatever is asked
    asked = native.NativeOptions(calls=("predict",), threads=("all",))
    (ort_key,) = native.keys(["m"], 1, asked, "ort-native")
    assert ort_key.setting == "call=run,batch=32,threads=all"


def test_ort_is_compared_with_native_onnxruntime(ws, converted):
    """The browser/native ratio for a second framework: ONNX Runtime Web ÷ onnxruntime."""
    converted("dnn-d1-w64", "onnx")
    ran = run_cli(ws.root, "measure", "loading", "--models", "dnn-d1-w64", "--runtimes", "ort,ort-native",
                  "--backends", "wasm", "--trials", "1", "--runs", "5")
    assert ran.code == 0, ran.err
    from browserdl.reports.frame import Frame
    from browserdl.reports.loading_tables import ratios
    from browserdl.results.store import Store

    with Store(ws.store_path) as store:
        frame = Frame.load(store)
    (row,) = [r for r in ratios(frame) if r["runtime"] == "ort"]
    # ORT's wasm uses min(4, ceil(cores / 2)) threads: 1 on these 2 cores, so the 1-thread baseline
    threads = min(4, -(-(os.cpu_count() or 1) // 2))
    assert frame.threads[row["group"]] == threads
    expected = "1 thread" if threads == 1 else "all threads"
    assert row["baseline"] == f"ort-native run, {expected}" and row["backend"] == "wasm"
    assert all(row[label] > 0 for label in ("library", "load", "warm-up", "inference", "batch"))
    assert "ort-native" in ran.out
