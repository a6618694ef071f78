"""tfjs-graph: TF.js graph models written by tensorflowjs' own converter (model.h5 → SavedModel →
graph), judged by TF.js in Node and timed on every TF.js backend in headless Chromium; and a
user's SavedModel through `write_saved_model`."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from conftest import run_cli

from browserdl.converter import FORMATS
from browserdl.converter.base import Manifest, Unsupported, describe_files
from browserdl.converter.source import read
from browserdl.converter.tfjs_graph import write_saved_model
from browserdl.loaders.parity import BOUNDS, Reference, _run_node, compare
from browserdl.loaders.runtimes import GL_BACKENDS
from browserdl.quiet import import_quietly
from browserdl.results.store import Store

QUICK = ("dnn-d1-w64", "dnn-d2-w128", "dnn-d1-w64-tanh", "cnn-l6-w40", "rnn-l1-w16")  # zoo PRESETS
GRAPH = ("tfjs-graph", "tfjs-graph-f16", "tfjs-graph-u8")
BOUND = {"tfjs-graph": 1e-4, "tfjs-graph-f16": 1e-2, "tfjs-graph-u8": 0.1}
BACKENDS = ("cpu", "wasm", "webgl", "webgpu")
# TF.js 4.22's wasm _FusedMatMul takes a rank-1 bias only, and tensorflowjs fuses the LSTM's
# recurrent add (h · U, a [batch, 4 units] tensor) into one: the adapter says n/a
NOT_HERE = {("rnn-l1-w16", "wasm")}
BYTES_PER_VALUE = {None: 4, "float16": 2, "uint8": 1}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory, trained):
    """The quick preset's models (dnn-d1-w64 from the session) converted to the three graph
    formats with parity in Node, then tfjs-graph timed once on every TF.js backend."""
    root = tmp_path_factory.mktemp("graph")
    shutil.copytree(trained / "models", root / "models")
    assert run_cli(root, "train", "--models", ",".join(QUICK[1:])).code == 0
    converted = run_cli(root, "convert", "all-formats", "--formats", ",".join(GRAPH))
    assert converted.code == 0, converted.err
    measured = run_cli(root, "measure", "loading", "--runtimes", "tfjs", "--formats", "tfjs-graph",
                       "--trials", "1", "--runs", "3", timeout=1200)
    assert measured.code == 0, measured.err
    return root, converted, measured


def _float_bytes(model_json: dict) -> int:
    """Bytes the float32 weights take in the shards (quantized: at their stored width)."""
    return sum(math.prod(w["shape"]) * BYTES_PER_VALUE[w.get("quantization", {}).get("dtype")]
               for group in model_json["weightsManifest"] for w in group["weights"]
               if w["dtype"] == "float32")


@pytest.mark.browser
def test_every_model_converts_with_parity_in_node(graphs):
    root, converted, _ = graphs
    assert "15 written (0 reused), 0 not expressible, 0 failed" in converted.err, converted.err
    with Store(root / "results.sqlite") as store:
        rows = {(r["model"], r["format"]): r for r in store.conversions()}
    assert set(rows) == {(m, f) for m in QUICK for f in GRAPH}
    for (model, fmt), row in rows.items():
        assert row["status"] == "ok" and row["runtime"] == "tfjs" and row["backend"] == "cpu", row
        assert row["max_diff"] <= BOUND[fmt] and row["n"] == 32, row
        assert row["argmax_equal"] == 32 if fmt == "tfjs-graph" else row["argmax_equal"] >= 30, row
        notes = " ".join(Manifest.load(root / "formats" / model / fmt).notes)
        assert "tfjs_graph_model" in notes and "signature serving_default" in notes
        assert ("executeAsync" in notes) == (model == "rnn-l1-w16")  # the LSTM's While loop
        assert ("quantized" in notes) == (fmt != "tfjs-graph")


@pytest.mark.browser
def test_graph_files_and_quantized_weight_bytes(graphs):
    root = graphs[0]
    for model in QUICK:
        float_bytes = {}
        for fmt in GRAPH:
            folder = root / "formats" / model / fmt
            manifest = Manifest.load(folder)
            assert manifest.entry == "model.json" and manifest.library == "@tensorflow/tfjs@4.22.0"
            assert {f.name for f in manifest.files} == {"model.json", "group1-shard1of1.bin"}
            model_json = json.loads((folder / "model.json").read_text())
            assert model_json["format"] == "graph-model"
            assert len(model_json["signature"]["outputs"]) == 1  # the Keras output layer's name
            float_bytes[fmt] = _float_bytes(model_json)
        assert float_bytes["tfjs-graph-f16"] * 2 == float_bytes["tfjs-graph"], model
        assert float_bytes["tfjs-graph-u8"] * 4 == float_bytes["tfjs-graph"], model
    # dnn-d1-w64's shard is its 50,890 parameters and nothing else
    shard = root / "formats" / "dnn-d1-w64" / "tfjs-graph" / "group1-shard1of1.bin"
    assert shard.stat().st_size == 4 * 50_890


@pytest.mark.browser
def test_every_model_and_backend_times_every_phase_in_chromium(graphs):
    root, _, measured = graphs
    with Store(root / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["kind"] == "load" and r["format"] == "tfjs-graph"
                and r["settings"] == {"cache": "cold"}]
    trials = {}
    for r in rows:
        trials.setdefault((r["model"], r["backend"]), {})[r["phase"]] = r
    assert set(trials) == {(m, b) for m in QUICK for b in BACKENDS}
    said = " ".join(measured.err.split())
    for (model, backend), phases in trials.items():
        first = next(iter(phases.values()))
        if first["detail"].get("not_applicable"):
            if (model, backend) in NOT_HERE:
                assert "_FusedMatMul only supports rank-1 bias" in first["error"], first
                assert "not applicable" in said and "cannot run this graph: _FusedMatMul" in said
            else:  # an engine without this GPU backend (recorded n/a by the session)
                assert backend in GL_BACKENDS and "cannot run this graph" not in first["error"]
            continue
        assert (model, backend) not in NOT_HERE, "TF.js wasm runs the LSTM graph now: update NOT_HERE"
        assert all(r["ok"] for r in phases.values()), (model, backend, first["error"])
        for phase in ("download", "parse", "build", "warmup", "inference"):
            assert phases[phase]["value"] > 0, (model, backend, phase)
        assert len(phases["inference"]["samples"]) == 3
        detail = phases["build"]["detail"]
        assert detail["backend_used"] == backend
        assert detail["max_diff"] <= 1e-4, (model, backend, detail["max_diff"])  # parity in the page


def test_a_saved_model_converts_and_tfjs_in_node_agrees(tmp_path):
    tf_keras = import_quietly("tf_keras")
    layers = tf_keras.layers
    bias = tf_keras.initializers.RandomNormal(stddev=0.1, seed=1)  # zero biases fold away
    model = tf_keras.Sequential([layers.Input((12,)),
                                 layers.Dense(8, activation="relu", bias_initializer=bias),
                                 layers.Dense(3, activation="softmax", bias_initializer=bias)])
    saved = tmp_path / "saved_model"
    model.save(saved, save_format="tf")
    inputs = np.random.default_rng(0).random((32, 12), dtype=np.float32)
    expected = np.asarray(model(inputs), dtype=np.float32)
    input_path = tmp_path / "input.bin"
    inputs.astype("<f4").tofile(input_path)
    for quantize, precision in ((None, "float32"), ("uint8", "uint8")):
        out = tmp_path / f"graph-{precision}"
        out.mkdir()
        notes = write_saved_model(saved, out, quantize=quantize)
        assert "tf_saved_model" in notes[0] and "serving_default" in notes[1]
        model_json = json.loads((out / "model.json").read_text())
        assert model_json["format"] == "graph-model"
        (signature_input,) = model_json["signature"]["inputs"].values()
        assert [d["size"] for d in signature_input["tensorShape"]["dim"]] == ["-1", "12"]
        Manifest("mine", "tfjs-graph", "tfjs", "@tensorflow/tfjs@4.22.0", "model.json",
                 describe_files(out), notes).save(out)
        got = _run_node("tfjs", out, Reference(input_path, inputs, expected), None)
        parity = compare(expected, got, BOUNDS[precision])
        assert parity.ok, parity.message
        if precision == "float32":
            assert parity.max_diff <= 1e-6


def test_an_op_tfjs_lacks_is_refused_by_name_and_leaves_no_temp_files(tmp_path, monkeypatch):
    import tempfile

    tf_keras = import_quietly("tf_keras")
    inputs = tf_keras.Input((4,))
    binned = tf_keras.layers.Discretization(bin_boundaries=[0.0, 1.0])(tf_keras.layers.Dense(3)(inputs))
    h5 = tmp_path / "binned" / "model.h5"
    h5.parent.mkdir()
    tf_keras.Model(inputs, binned).save(h5)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Unsupported, match="Bucketize"):
        FORMATS["tfjs-graph"].write(read(h5), out)
    # tensorflowjs leaves its SavedModel behind when it raises: ours went to a scratch folder
    assert list(temp.iterdir()) == []
    assert tempfile.tempdir == str(temp)
