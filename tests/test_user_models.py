"""`browserdl add`: the user's own files, made here (no downloads), through convert, parity,
measure loading and the report; and every bad input as one line with nothing stored."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from browserdl.reports.frame import Frame
from browserdl.reports.your_model import your_model_table
from browserdl.results.store import Store

pytestmark = pytest.mark.browser

MADE = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from pathlib import Path
import numpy as np, tensorflow as tf, tf_keras as k, tf2onnx
out = Path(sys.argv[1])
k.utils.set_random_seed(7)
i = k.Input((12, 12, 3), name="pixels")
x = k.layers.Conv2D(6, 3, padding="same", activation="relu")(i)
x = k.layers.BatchNormalization()(x)
y = k.layers.Conv2D(6, 3, padding="same")(x)
x = k.layers.Add()([x, y])
a = k.layers.GlobalAveragePooling2D()(x)
b = k.layers.GlobalMaxPooling2D()(x)
c = k.layers.Dropout(0.3)(k.layers.Concatenate()([a, b]))
net = k.Model(i, k.layers.Dense(4, activation="softmax")(c))
net.compile(loss="categorical_crossentropy", optimizer="sgd")
# BatchNormalization with statistics that are not the identity, so parity sees them
bn = net.layers[2]
bn.set_weights([w + np.random.default_rng(1).random(w.shape).astype("f4") for w in bn.get_weights()])
net.save(out / "resnetish.h5")
net.save(out / "resnetish_sm", save_format="tf")
import tensorflowjs.converters.converter as tfjs
tfjs.dispatch_keras_h5_to_tfjs_layers_model_conversion(str(out / "resnetish.h5"), str(out / "layers_js"))
tfjs.dispatch_keras_h5_to_tfjs_graph_model_conversion(str(out / "resnetish.h5"), str(out / "graph_js"))
mlp = k.Sequential([k.layers.Dense(16, activation="relu", input_shape=(20,)),
                    k.layers.Dense(3, activation="softmax")])
spec = (tf.TensorSpec((None, 20), tf.float32, name="features"),)
tf2onnx.convert.from_keras(mlp, input_signature=spec, opset=15, output_path=str(out / "mlp.onnx"))
np.save(out / "mlp_in.npy", np.random.default_rng(3).random((8, 20), dtype=np.float32))
x = np.random.default_rng(4).random((40, 20), dtype=np.float32)
np.save(out / "mlp_x.npy", x)
np.save(out / "mlp_y.npy", np.asarray(mlp(x)).argmax(1))  # labels the model itself gives
class Plain(tf.Module):  # a SavedModel with no Keras in it
    def __init__(self):
        self.w = tf.Variable(np.random.default_rng(5).random((10, 3), dtype=np.float32))
    @tf.function(input_signature=[tf.TensorSpec((None, 10), tf.float32, name="x")])
    def __call__(self, x):
        return {"scores": tf.nn.softmax(tf.matmul(x, self.w))}
import keras  # Keras 3: its .keras files are what tf_keras can't read
k3 = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                       keras.layers.Dense(2, activation="softmax")])
k3.save(out / "k3.keras")
plain = Plain()
tf.saved_model.save(plain, str(out / "plain_sm"), signatures=plain.__call__)
"""


def _sha(path: Path) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("user-files")
    done = subprocess.run([sys.executable, "-c", MADE, str(out)], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def added(files, tmp_path_factory):
    """One workspace with every kind added, converted and (Keras, ONNX) measured; the digests of
    the user's files before anything ran."""
    ws = tmp_path_factory.mktemp("user-ws")
    before = {name: _sha(files / name) for name in ("resnetish.h5", "resnetish_sm", "layers_js",
                                                      "mlp.onnx", "plain_sm", "graph_js", "k3.keras")}
    for args in (("add", str(files / "resnetish.h5"), "--id", "my-net"),
                 ("add", str(files / "resnetish_sm"), "--id", "my-sm"),
                 ("add", str(files / "layers_js" / "model.json"), "--id", "my-js"),
                 ("add", str(files / "mlp.onnx"), "--input", str(files / "mlp_in.npy"),
                  "--data", f"{files / 'mlp_x.npy'},{files / 'mlp_y.npy'}"),
                 ("add", str(files / "plain_sm"), "--id", "plain"),
                 ("add", str(files / "graph_js"), "--id", "my-graph"),
                 ("add", str(files / "k3.keras")),
                 ("convert", "all-formats"),
                 ("measure", "sizes"),
                 ("measure", "loading", "--models", "my-net,mlp,my-graph", "--runtimes",
                  "native,ort-native,tfjs,ort", "--backends", "cpu,wasm", "--trials", "1", "--runs", "3"),
                 ("measure", "accuracy", "--models", "mlp", "--formats", "onnx"),
                 ("measure", "training", "--models", "my-net,plain", "--runtimes", "native,tfjs",
                  "--backends", "cpu", "--trials", "1", "--batches", "2")):
        ran = run_cli(ws, *args, timeout=900)
        assert ran.code == 0, (args, ran.err[-3000:])
    return ws, before, ran


def _meta(ws: Path, model: str) -> dict:
    return json.loads((ws / "models" / model / "meta.json").read_text())


def _conversions(ws: Path) -> dict[tuple[str, str], dict]:
    with Store(ws / "results.sqlite") as store:
        return {(c["model"], c["format"]): c for c in store.conversions()}


def test_add_records_what_the_file_is(added, files):
    ws, _, _ = added
    meta = _meta(ws, "my-net")
    assert meta["kind"] == "keras" and meta["family"] == "user"
    assert meta["input_shape"] == [12, 12, 3] and meta["output_shape"] == [4]
    assert meta["input_dtype"] == meta["output_dtype"] == "float32"
    classes = {layer["class"] for layer in meta["layers"]}
    assert {"BatchNormalization", "Dropout", "GlobalAveragePooling2D", "Add", "Concatenate"} <= classes
    # params as Keras counts them; FLOPs: the two 3×3 convolutions and the dense layer
    assert meta["total_params"] == (3 * 9 * 6 + 6) + 4 * 6 + (6 * 9 * 6 + 6) + (12 * 4 + 4)
    assert meta["flops"] == 2 * 144 * 9 * (3 * 6 + 6 * 6) + 2 * 12 * 4
    assert meta["source"]["sha256"] == hashlib.sha256((files / "resnetish.h5").read_bytes()).hexdigest()
    assert meta["loss"] == "categorical_crossentropy"
    assert meta["inputs"].startswith("seeded random values") and meta["batch"] == 32
    onnx_meta = _meta(ws, "mlp")
    assert onnx_meta["kind"] == "onnx" and onnx_meta["input_name"] == "features"
    # the weights: tf2onnx's optimizer folds away the adds of the (untrained, zero) biases
    assert onnx_meta["flops"] is None and onnx_meta["total_params"] == 20 * 16 + 16 * 3
    assert onnx_meta["batch"] == 8 and onnx_meta["inputs"].startswith("the user's sample")
    assert _meta(ws, "my-sm")["kind"] == "keras" and _meta(ws, "my-js")["kind"] == "keras"
    assert _meta(ws, "plain")["kind"] == "savedmodel" and _meta(ws, "plain")["output_shape"] == [3]
    assert _meta(ws, "k3")["kind"] == "savedmodel" and "Keras 3" in _meta(ws, "k3")["source"]["how"]
    graph = _meta(ws, "my-graph")
    assert graph["kind"] == "tfjs-graph" and graph["input_shape"] == [12, 12, 3]
    convolutions = graph["ops"].get("Conv2D", 0) + graph["ops"].get("_FusedConv2D", 0)
    assert graph["flops"] is None and convolutions == 2


def test_every_format_written_has_parity_and_every_refusal_names_its_layer(added):
    ws, _, _ = added
    conversions = _conversions(ws)
    for model in ("my-net", "my-sm", "my-js"):
        for fmt in ("tfjs-layers", "tfjs-graph", "onnx", "onnx-webgl", "keras-h5"):
            row = conversions[model, fmt]
            assert row["status"] == "ok" and row["max_diff"] <= 1e-4, (model, fmt, row)
        for fmt in ("convnetjs", "kerasjs", "webdnn-fallback"):
            assert "layer 'add' (Add) joins 2 branches" in conversions[model, fmt]["reason"], fmt
        for fmt in ("brainjs", "synaptic", "mind"):
            assert "(Conv2D)" in conversions[model, fmt]["reason"], fmt
    written = [c for c in conversions.values() if c["status"] not in ("n/a",)]
    assert all(c["status"] == "ok" for c in written), [c for c in written if c["status"] != "ok"]
    for fmt in ("onnx", "onnx-webgl"):
        assert conversions["mlp", fmt]["status"] == "ok"
    assert conversions["mlp", "tfjs-layers"]["status"] == "n/a"
    assert "added onnx model without Keras layers" in conversions["mlp", "tfjs-layers"]["reason"]
    for model in ("plain", "k3"):  # SavedModels without Keras: the graph formats take them
        for fmt in ("tfjs-graph", "tfjs-graph-u8", "onnx"):
            assert conversions[model, fmt]["status"] == "ok", conversions[model, fmt]
    assert conversions["plain", "keras-h5"]["status"] == "n/a"
    assert conversions["my-graph", "tfjs-graph"]["status"] == "ok"  # the user's file, as given
    assert conversions["my-graph", "tfjs-graph-f16"]["status"] == "n/a"


def test_loading_in_the_browser_and_natively(added):
    ws, _, _ = added
    with Store(ws / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["kind"] == "load"]
    trials = {(r["model"], r["format"], r["runtime"], r["backend"]) for r in rows}
    tfjs = [("my-net", f, "tfjs", b) for f in ("tfjs-layers", "tfjs-graph") for b in ("cpu", "wasm")]
    for combo in [*tfjs,
            ("my-net", "onnx", "ort", "wasm"), ("my-net", "keras-h5", "native", "cpu"),
            ("my-net", "onnx", "ort-native", "cpu"), ("mlp", "onnx", "ort", "wasm"),
            ("mlp", "onnx", "ort-native", "cpu"), ("my-graph", "tfjs-graph", "tfjs", "cpu"),
            ("my-graph", "tfjs-graph", "native", "cpu")]:  # TensorFlow on the rebuilt GraphDef
        assert combo in trials, combo
        got = [r for r in rows if (r["model"], r["format"], r["runtime"], r["backend"]) == combo]
        assert all(r["ok"] for r in got), (combo, got[0]["error"])
        phases = {r["phase"]: r["value"] for r in got}
        assert phases["inference"] > 0 and phases["warmup"] > 0, combo
        if combo[2] in ("tfjs", "ort"):  # the page compared its outputs with the native ones
            assert got[0]["detail"]["max_diff"] <= 1e-4, combo
    assert ("mlp", "keras-h5", "native", "cpu") not in trials  # TensorFlow runs no ONNX


def test_accuracy_on_the_users_labelled_data(added):
    ws, _, _ = added
    with Store(ws / "results.sqlite") as store:
        rows = {r["phase"]: r["value"] for r in store.rows() if r["kind"] == "accuracy"}
    assert rows["n"] == 40 and rows["accuracy"] == 1.0 and rows["agreement"] == 1.0


def test_training_where_the_model_has_a_loss(added):
    ws, _, ran = added
    with Store(ws / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["kind"] == "train"]
    trained = {(r["model"], r["runtime"]) for r in rows if r["ok"]}
    assert {("my-net", "native"), ("my-net", "tfjs")} <= trained
    assert all(r["value"] > 0 for r in rows if r["ok"] and r["unit"] == "ms")
    assert not any(r["model"] == "plain" for r in rows)
    assert "plain native: an added savedmodel model: training needs its Keras layers" in ran.err


def test_the_users_files_are_never_changed(added, files):
    ws, before, _ = added
    after = {name: _sha(files / name) for name in before}
    assert after == before
    assert (ws / "models" / "my-net" / "source" / "original" / "resnetish.h5").read_bytes() == (
        files / "resnetish.h5").read_bytes()


def test_report_has_your_model_in_every_framework(added):
    ws, _, _ = added
    with Store(ws / "results.sqlite") as store:
        frame = Frame.load(store)
    meta = next(m for m in frame.models if m["id"] == "my-net")
    table = your_model_table(frame, meta)
    rows = {(r[0], r[1].split(" ")[0]): dict(zip(table.headers, r, strict=True)) for r in table.rows}
    for fmt, where in (("tfjs-layers", "tfjs/cpu"), ("tfjs-graph", "tfjs/wasm"), ("onnx", "ort/wasm")):
        row = rows[fmt, where]
        assert row["raw"].endswith("KiB") and row["first prediction (loopback)"].endswith(("ms", "s"))
        assert row["inference"] != "—" and row["÷ native"].endswith("×"), row
        assert row["parity"].startswith("ok "), row
    assert rows["keras-h5", "native"]["parity"] == "native reference"
    assert "convnetjs — layer 'add' (Add) joins 2 branches" in table.notes[-1]
    ran = run_cli(ws, "report")
    assert ran.code == 0, ran.err
    assert "Your model in every framework — my-net" in ran.out
    assert "Your model in every framework — mlp" in ran.out


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64),
     "is not a Keras model tf_keras can read"),
    (lambda d: (d / "empty_dir").mkdir(), "no SavedModel (no saved_model.pb)"),
    (lambda d: (d / "weights.pt").write_bytes(b"torch"), "unsupported file type '.pt'"),
    (lambda d: (d / "broken.onnx").write_bytes(b"not a protobuf"), "is not an ONNX model"),
])
def test_bad_files_are_one_line_and_store_nothing(tmp_path, make, message):
    files = tmp_path / "in"
    files.mkdir()
    make(files)
    (path,) = files.iterdir()
    ws = tmp_path / "ws"
    ran = run_cli(ws, "add", str(path))
    assert ran.code == 2 and len(ran.err_lines) == 1 and message in ran.err, ran.err
    assert "Traceback" not in ran.err
    assert not (ws / "models").exists() or not any((ws / "models").iterdir())
    assert not (ws / "results.sqlite").exists()


def test_a_bad_input_shape_is_one_line_and_stores_nothing(files, tmp_path):
    for shape, message in (("1,x,3", "give positive integers"), ("1,12,12", "rank-4 inputs"),
                           ("1,10,12,3", "does not fit")):
        ws = tmp_path / shape.replace(",", "_")
        ran = run_cli(ws, "add", str(files / "resnetish.h5"), "--input-shape", shape)
        assert ran.code == 2 and len(ran.err_lines) == 1 and message in ran.err, ran.err
        assert not (ws / "models").exists() or not any((ws / "models").iterdir())
        if (ws / "results.sqlite").exists():
            assert not sqlite3.connect(ws / "results.sqlite").execute("SELECT * FROM models").fetchall()


def test_an_id_already_taken_is_refused(added, files, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(added[0] / "models", ws / "models")
    ran = run_cli(ws, "add", str(files / "mlp.onnx"), "--id", "my-net")
    assert ran.code == 2 and "is taken by" in ran.err and len(ran.err_lines) == 1
    assert _meta(ws, "my-net")["kind"] == "keras"
    ran = run_cli(ws, "add", str(files / "mlp.onnx"), "--id", "dnn-d1-w64")
    assert ran.code == 2 and "zoo model id" in ran.err
    assert np.load(ws / "models" / "my-net" / "input.npy").shape == (32, 12, 12, 3)
