"""ConvNetJS and brain.js: JSON as each library's own toJSON() writes it, judged by the real
convnetjs 0.3.0 and brain.js 1.6.1 (in Node for parity, and once in Chromium)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import convert_one, train_workspace

from browserdl.converter import FORMATS, brainjs
from browserdl.converter.convert import convert, read_source
from browserdl.converter.source import SourceModel
from browserdl.loaders.parity import BOUNDS, compare, reference, verify
from browserdl.loaders.session import BrowserSession
from browserdl.workspace import Workspace, node_modules

MODELS = ("dnn-d2-w16", "dnn-d1-w16-tanh", "cnn-l8-w20", "rnn-l1-w8")
CONVNETJS, BRAINJS = FORMATS["convnetjs"], FORMATS["brainjs"]

# The same nets built by the libraries themselves (cnn-l8-w20: 5x5 valid and 3x3 same convs).
CONVNETJS_DEFS = {
    "dnn-d2-w16": [{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 784},
                   {"type": "fc", "num_neurons": 16, "activation": "relu"},
                   {"type": "fc", "num_neurons": 16, "activation": "relu"},
                   {"type": "softmax", "num_classes": 10}],
    "dnn-d1-w16-tanh": [{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 784},
                        {"type": "fc", "num_neurons": 16, "activation": "tanh"},
                        {"type": "fc", "num_neurons": 10, "activation": "tanh"}],
    "cnn-l8-w20": [{"type": "input", "out_sx": 28, "out_sy": 28, "out_depth": 1},
                   {"type": "conv", "sx": 5, "filters": 5, "stride": 1, "pad": 0, "activation": "relu"},
                   {"type": "conv", "sx": 3, "filters": 5, "stride": 1, "pad": 1, "activation": "relu"},
                   {"type": "pool", "sx": 2, "stride": 2},
                   {"type": "conv", "sx": 5, "filters": 5, "stride": 1, "pad": 0, "activation": "relu"},
                   {"type": "conv", "sx": 3, "filters": 5, "stride": 1, "pad": 1, "activation": "relu"},
                   {"type": "pool", "sx": 2, "stride": 2},
                   {"type": "softmax", "num_classes": 10}],
}
# (hidden layers, activation, outputs): dnn-d2-w16's output is written as 10 signed pairs
BRAINJS_NETS = {"dnn-d2-w16": ([16, 16], "relu", 20), "dnn-d1-w16-tanh": ([16], "tanh", 10)}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return train_workspace(tmp_path_factory, "convnetjs-brainjs", MODELS)


def _node(script: str) -> str:
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(node_modules())})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _js_type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}[type(value)]


def _same_structure(ours: Any, theirs: Any, free: tuple[str, ...], path: str = "$") -> None:
    """Same keys in the same order, same nesting, same JS types; equal values except under a
    key in `free` (weights and biases, random in the library's net)."""
    assert _js_type(ours) == _js_type(theirs), path
    if isinstance(ours, dict):
        assert list(ours) == list(theirs), path
        for key in ours:
            _same_structure(ours[key], theirs[key], free, f"{path}.{key}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same_structure(a, b, free, f"{path}[{i}]")
    elif not any(f".{key}" in path for key in free):
        assert ours == theirs, path


def _rewrites_identically(library: str, text_path: Path) -> None:
    """The library loads our file and its own toJSON() writes the very same bytes back."""
    load = {"convnetjs": "const net = new lib.Net(); net.fromJSON(json);",
            "brain.js": "const net = new lib.NeuralNetwork().fromJSON(json);"}[library]
    again = _node(f"const lib = require('{library}'); const fs = require('fs');"
                  f"const json = JSON.parse(fs.readFileSync({json.dumps(str(text_path))}, 'utf8'));"
                  f"{load} process.stdout.write(JSON.stringify(net.toJSON()));")
    if library == "brain.js":
        # 1.6.1's fromJSON copies the JSON's `false` lookups onto the net and toJSON writes
        # `lookup !== null`: a loaded net re-saves them as true (a fresh net writes false)
        quirk = '"outputLookup":true,"inputLookup":true'
        assert again.count(quirk) == 1
        again = again.replace(quirk, '"outputLookup":false,"inputLookup":false')
    text = text_path.read_text()
    first_diff = next((i for i, (a, b) in enumerate(zip(text, again, strict=False)) if a != b), None)
    assert (len(again), first_diff) == (len(text), None)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt, model_id", [
    (CONVNETJS, "dnn-d2-w16"), (CONVNETJS, "cnn-l8-w20"), (CONVNETJS, "dnn-d1-w16-tanh"),
    (BRAINJS, "dnn-d2-w16"), (BRAINJS, "dnn-d1-w16-tanh"),
], ids=lambda v: getattr(v, "name", v))
def test_round_trip_within_parity(ws: Workspace, fmt: Any, model_id: str) -> None:
    outcome = convert_one(ws, model_id, fmt)
    assert outcome.manifest is not None and outcome.refused is None
    assert [f.name for f in outcome.manifest.files] == ["model.json"]
    parity = verify(ws, fmt, outcome.folder)
    assert parity.ok, parity.label
    assert parity.max_diff is not None and parity.max_diff <= 1e-4 and parity.argmax_equal == 32
    signed = (fmt, model_id) == (BRAINJS, "dnn-d2-w16")
    assert outcome.manifest.outputs == (brainjs.SIGNED_SOFTMAX if signed else "raw")
    assert any(n.startswith("adapter: ") for n in outcome.manifest.notes) == signed


def test_both_adapters_run_in_chromium(ws: Workspace) -> None:
    cases = [(CONVNETJS, "cnn-l8-w20"), (BRAINJS, "dnn-d2-w16")]
    folders = [convert_one(ws, m, fmt).folder for fmt, m in cases]
    with BrowserSession(ws) as session:
        for (fmt, model_id), folder in zip(cases, folders, strict=True):
            ref = reference(ws, model_id)
            result = session.run(adapter=fmt.runtime, backend="cpu", formatUrl=session.url(folder),
                                 inputUrl=session.url(ref.input_path), shape=list(ref.inputs.shape))
            got = np.asarray(result["output"], dtype=np.float32)
            assert result["backend"] == "cpu" and result["page_errors"] == []
            assert compare(ref.outputs, got, BOUNDS["float32"]).ok
            assert set(result["phases"]) >= {"library", "download", "parse", "build", "first_batch"}


# ---------------------------------------------------------------- the files are the libraries'


@pytest.mark.parametrize("model_id", list(CONVNETJS_DEFS))
def test_convnetjs_file_is_what_convnetjs_writes(ws: Workspace, model_id: str) -> None:
    path = convert_one(ws, model_id, CONVNETJS).folder / "model.json"
    theirs = json.loads(_node(
        "const c = require('convnetjs'); const net = new c.Net();"
        f"net.makeLayers({json.dumps(CONVNETJS_DEFS[model_id])});"
        "process.stdout.write(JSON.stringify(net.toJSON()));"))
    ours = json.loads(path.read_text())
    _same_structure(ours, theirs, free=("w",))
    _rewrites_identically("convnetjs", path)


def test_convnetjs_weights_are_the_keras_floats_exactly(ws: Workspace) -> None:
    source, _ = read_source(ws, "cnn-l8-w20")
    folder = convert_one(ws, "cnn-l8-w20", CONVNETJS).folder
    layers = json.loads((folder / "model.json").read_text())["layers"]
    conv = next(layer for layer in layers if layer["layer_type"] == "conv")
    kernel = source.layers[0].weights["kernel"]  # (5, 5, 1, 5)
    for d, vol in enumerate(conv["filters"]):
        assert (vol["sx"], vol["sy"], vol["depth"]) == (5, 5, 1)
        assert list(vol["w"]) == [str(i) for i in range(25)]
        w = np.array(list(vol["w"].values()), dtype=np.float64)
        assert np.array_equal(w, kernel[..., d].ravel().astype(np.float64))  # identical doubles
    fc = next(layer for layer in layers if layer["layer_type"] == "fc")
    assert fc["num_inputs"] == 4 * 4 * 5  # Flatten of (4, 4, 5): no layer of its own


@pytest.mark.parametrize("model_id", list(BRAINJS_NETS))
def test_brainjs_file_is_what_brainjs_writes(ws: Workspace, model_id: str) -> None:
    path = convert_one(ws, model_id, BRAINJS).folder / "model.json"
    hidden, activation, outputs = BRAINJS_NETS[model_id]
    theirs = json.loads(_node(
        "const b = require('brain.js');"
        f"const net = new b.NeuralNetwork({{hiddenLayers: {hidden}, activation: '{activation}'}});"
        f"net.verifyIsInitialized([{{input: new Array(784).fill(0), output: new Array({outputs}).fill(0)}}]);"
        "process.stdout.write(JSON.stringify(net.toJSON()));"))
    ours = json.loads(path.read_text())
    _same_structure(ours, theirs, free=("bias", "weights"))
    _rewrites_identically("brain.js", path)
    source, _ = read_source(ws, model_id)
    kernel = source.layers[0].weights["kernel"]
    first = ours["layers"][1]["0"]
    assert np.array_equal(np.array(list(first["weights"].values())), kernel[:, 0].astype(np.float64))
    if model_id == "dnn-d2-w16":  # the output written as +z then -z
        out = source.layers[-1]
        assert first["bias"] == float(source.layers[0].weights["bias"][0])
        assert ours["layers"][3]["10"]["bias"] == -float(out.weights["bias"][0])
        assert np.array_equal(np.array(list(ours["layers"][3]["12"]["weights"].values())),
                              -out.weights["kernel"][:, 2].astype(np.float64))
    else:  # bias-free Keras layers: zero biases
        assert first["bias"] == 0


# ---------------------------------------------------------------- refusals


def _variant(source: SourceModel, name: str, **activations: str) -> SourceModel:
    """A copy under another id (so no real conversion is touched) with layer configs changed."""
    layers = copy.deepcopy(source.layers)
    for layer in layers:
        if layer.name in activations:
            layer.config["activation"] = activations[layer.name]
    return dataclasses.replace(source, id=f"{source.id}-{name}", layers=layers)


def _refusal(ws: Workspace, fmt: Any, source: SourceModel) -> str:
    outcome = convert(ws, source, fmt, "digest")
    assert outcome.manifest is None and not outcome.folder.exists()
    assert not list(ws.formats.glob(f"{source.id}/.{fmt.name}*"))  # no scratch left either
    assert outcome.refused is not None
    return outcome.refused


def test_unsupported_models_are_refused_precisely(ws: Workspace) -> None:
    rnn, _ = read_source(ws, "rnn-l1-w8")
    cnn, _ = read_source(ws, "cnn-l8-w20")
    dnn, _ = read_source(ws, "dnn-d2-w16")
    assert _refusal(ws, CONVNETJS, rnn) == "layer 'lstm_1' (LSTM): ConvNetJS has no recurrent layers"
    assert _refusal(ws, BRAINJS, rnn) == ("layer 'lstm_1' (LSTM): brain.recurrent's LSTM is not a "
                                          "Keras LSTM and NeuralNetwork is feed-forward")
    assert _refusal(ws, BRAINJS, cnn) == ("layer 'conv5_1' (Conv2D): brain.js NeuralNetwork has "
                                          "fully connected layers only")
    assert _refusal(ws, BRAINJS, _variant(dnn, "tanh-out", output="tanh")) == (
        "layer 'output' (Dense, activation 'tanh'): brain.js applies the hidden layers' 'relu' to the "
        "output layer too and has no softmax; only a relu stack's logits can be recovered (signed pairs)")
    assert _refusal(ws, BRAINJS, _variant(dnn, "mixed", dense_2="sigmoid")) == (
        "layer 'dense_2' (Dense, activation 'sigmoid'): brain.js uses one activation for every layer "
        "('relu' from 'dense_1')")
    assert _refusal(ws, BRAINJS, _variant(dnn, "elu", dense_1="elu", dense_2="elu")).startswith(
        "layer 'dense_1' (Dense, activation 'elu'): brain.js 1.6.1 has sigmoid, relu, tanh and a "
        "'leaky-relu' that is 0 below zero")
    assert _refusal(ws, CONVNETJS, _variant(dnn, "softmax-hidden", dense_1="softmax")) == (
        "layer 'dense_1' (Dense): activation 'softmax': ConvNetJS has only as the output layer of a Dense")
    strided = _variant(cnn, "strided")
    strided.layers[1].config["strides"] = [2, 2]  # 3x3 'same' stride 2 on 24x24: Keras pads 0 | 1
    assert _refusal(ws, CONVNETJS, strided) == (
        "layer 'conv3_2' (Conv2D): padding 'same' with kernel (3, 3) and stride 2: Keras pads "
        "unevenly here, ConvNetJS pads every side by the same amount")


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize("fmt, model_id, damage, message", [
    (CONVNETJS, "dnn-d2-w16", "truncate", "convnetjs: model.json is not valid JSON: "),
    (CONVNETJS, "dnn-d2-w16", ('"layer_type":"fc"', '"layer_type":"fully"'),
     "convnetjs: ConvNetJS Net.fromJSON rejected the file: "),
    (CONVNETJS, "cnn-l8-w20", ('"w":{"0":', '"w":{"0":1000,"x":'), "max |diff| "),
    (BRAINJS, "dnn-d2-w16", "truncate", "brainjs: model.json is not valid JSON: "),
    (BRAINJS, "dnn-d2-w16", ('"activation":"relu"', '"activation":"softmax"'),
     "brainjs: brain.js NeuralNetwork.fromJSON rejected the file: unknown activation softmax"),
    (BRAINJS, "dnn-d1-w16-tanh", ('"bias":0,', '"bias":3,'), "max |diff| "),
], ids=["convnetjs-truncated", "convnetjs-layer-type", "convnetjs-weight", "brainjs-truncated",
        "brainjs-activation", "brainjs-bias"])
def test_bad_files_fail_parity_with_a_clear_message(ws: Workspace, fmt: Any, model_id: str,
                                                     damage: Any, message: str) -> None:
    good = convert_one(ws, model_id, fmt).folder
    bad = good.with_name(f"{fmt.name}-damaged")
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(good, bad)
    text = (bad / "model.json").read_text()
    if damage == "truncate":
        text = text[: len(text) // 2]
    else:
        assert damage[0] in text
        text = text.replace(damage[0], damage[1], 1)
    (bad / "model.json").write_text(text)
    parity = verify(ws, fmt, bad)
    assert parity.status == "failed" and parity.message.startswith(message), parity.message
    assert "\n" not in parity.message and parity.label.startswith("FAILED: ")
