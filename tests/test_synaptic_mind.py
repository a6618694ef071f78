"""synaptic and Mind: JSON as each library writes it, judged by the real synaptic 1.1.4 in Node;
Mind (not on npm) is checked against the format its source writes, and its parity reports
"runtime not installed" unless a Mind build is given (BROWSERDL_MIND_LIB=PATH runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import convert_one, train_workspace

from browserdl.converter import FORMATS
from browserdl.converter.base import Manifest, Unsupported
from browserdl.converter.convert import read_source
from browserdl.loaders.parity import verify
from browserdl.workspace import Workspace, node_modules

MODELS = ("dnn-d1-w64", "dnn-d1-w64-tanh", "dnn-d2-w16-tanh", "cnn-l6-w20", "rnn-l1-w8")
SYNAPTIC, MIND = FORMATS["synaptic"], FORMATS["mind"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return train_workspace(tmp_path_factory, "synaptic-mind", MODELS)


def _node(script: str, stdin: str = "") -> str:
    done = subprocess.run(["node", "-e", script], input=stdin, capture_output=True, text=True,
                          env={**os.environ, "NODE_PATH": str(node_modules())}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shape(value: Any) -> Any:
    """Keys, nesting and JS types of a parsed JSON value (values themselves dropped)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, bool) or value is None:
        return repr(value)
    return "number" if isinstance(value, (int, float)) else type(value).__name__


# ---------------------------------------------------------------- synaptic


@pytest.mark.parametrize("model_id", ["dnn-d1-w64", "dnn-d1-w64-tanh"])
def test_synaptic_round_trip_within_parity(ws: Workspace, model_id: str) -> None:
    outcome = convert_one(ws, model_id, SYNAPTIC)
    assert outcome.manifest is not None
    parity = verify(ws, SYNAPTIC, outcome.folder)
    assert parity.ok, parity.label
    assert parity.max_diff is not None and parity.max_diff <= 1e-4 and parity.argmax_equal == 32
    # the tanh net has no softmax to apply
    assert outcome.manifest.outputs == ("softmax" if model_id == "dnn-d1-w64" else "raw")


def test_synaptic_file_is_what_synaptic_writes(ws: Workspace) -> None:
    """Same keys, nesting and JS types as synaptic's own toJSON() for a net of the same shape;
    and synaptic, loading our file, writes it back byte for byte."""
    folder = convert_one(ws, "dnn-d1-w64", SYNAPTIC).folder
    text = (folder / "network.json").read_text()
    ours = json.loads(text)
    theirs = json.loads(_node(
        "const s = require('synaptic');"
        "const net = new s.Architect.Perceptron(784, 64, 10);"
        "net.layers.hidden[0].set({squash: s.Neuron.squash.RELU});"
        "net.layers.output.set({squash: s.Neuron.squash.IDENTITY});"
        "process.stdout.write(JSON.stringify(net.toJSON()));"))
    assert _shape(ours) == _shape(theirs)
    # topology too: every neuron's layer and squash, every connection's ends, in the same order
    assert [(n["layer"], n["squash"]) for n in ours["neurons"]] == \
        [(n["layer"], n["squash"]) for n in theirs["neurons"]]
    assert [(c["from"], c["to"], c["gater"]) for c in ours["connections"]] == \
        [(c["from"], c["to"], c["gater"]) for c in theirs["connections"]]
    assert len(ours["neurons"]) == 784 + 64 + 10 and len(ours["connections"]) == 784 * 64 + 64 * 10
    written = _node("const s = require('synaptic'); const fs = require('fs');"
                    "const net = s.Network.fromJSON(JSON.parse(fs.readFileSync(0, 'utf8')));"
                    "process.stdout.write(JSON.stringify(net.toJSON()));", stdin=text)
    assert written == text
    # values: the Keras weights exactly (float32 widened to double), biases on the neurons
    layers = read_source(ws, "dnn-d1-w64")[0].layers
    weights = np.array([c["weight"] for c in ours["connections"]])
    expected = np.concatenate([layer.weights["kernel"].ravel() for layer in layers])
    assert np.array_equal(weights.astype(np.float32), expected)
    assert np.array_equal(np.array([n["bias"] for n in ours["neurons"][784:]], dtype=np.float32),
                          np.concatenate([layer.weights["bias"] for layer in layers]))
    assert [(f.name, f.bytes) for f in Manifest.load(folder).files] == [("network.json", len(text))]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t[: len(t) // 2], "synaptic: network.json is not valid JSON"),
    (lambda t: t.replace('"from":0,', '"from":99999,', 1), "synaptic: Network.fromJSON rejected the file"),
    (lambda t: t.replace('"gater":null}', '"gater":null,"weight":"x"}', 1),
     "synaptic: network.activate failed"),
    (lambda t: t.replace('"RELU"', '"LOGISTIC"'), "max |diff|"),
], ids=["truncated", "bad-neuron-index", "weight-not-a-number", "squash-changed"])
def test_synaptic_bad_file_fails_parity_clearly(ws: Workspace, tmp_path: Path, edit: Any,
                                                message: str) -> None:
    good = convert_one(ws, "dnn-d1-w64", SYNAPTIC).folder
    bad = good.parent / f"synaptic-{tmp_path.name}"
    shutil.copytree(good, bad)
    try:
        entry = bad / "network.json"
        entry.write_text(edit(entry.read_text()))
        parity = verify(ws, SYNAPTIC, bad)
    finally:
        shutil.rmtree(bad)
    assert parity.status == "failed"
    assert parity.message.startswith(message), parity.message
    assert "\n" not in parity.label


# ---------------------------------------------------------------- Mind


def test_mind_file_is_what_mind_downloads(ws: Workspace) -> None:
    """Mind 1.0.1's download(): an array of node-matrix objects — rows under "0".."R-1", then
    numRows, numCols, dimensions (so JSON.stringify writes a mind-xor-like plugin file)."""
    outcome = convert_one(ws, "dnn-d2-w16-tanh", MIND)
    assert outcome.manifest is not None
    text = (outcome.folder / "mind.json").read_text()
    matrices = json.loads(text)
    layers = read_source(ws, "dnn-d2-w16-tanh")[0].layers
    assert [(m["numRows"], m["numCols"]) for m in matrices] == [(784, 16), (16, 16), (16, 10)]
    for m, layer in zip(matrices, layers, strict=True):
        rows, cols = m["numRows"], m["numCols"]
        assert list(m) == [str(i) for i in range(rows)] + ["numRows", "numCols", "dimensions"]
        assert m["dimensions"] == [rows, cols]
        kernel = np.array([m[str(i)] for i in range(rows)])
        assert kernel.shape == (rows, cols)
        assert np.array_equal(kernel.astype(np.float32), layer.weights["kernel"])  # x · W, as Keras
    # the bytes are JSON.stringify's: parsing and re-writing in JS changes nothing
    assert _node("process.stdout.write(JSON.stringify(JSON.parse(require('fs').readFileSync(0, 'utf8'))))",
                 stdin=text) == text
    assert text.startswith('[{"0":[') and text.endswith('"numRows":16,"numCols":10,"dimensions":[16,10]}]')
    assert any("hiddenLayers: 2" in n for n in outcome.manifest.notes)


def test_mind_parity_needs_the_users_library(ws: Workspace) -> None:
    folder = convert_one(ws, "dnn-d1-w64-tanh", MIND).folder
    parity = verify(ws, MIND, folder)
    assert parity.status == "not installed" and parity.label == "runtime not installed"
    library = os.environ.get("BROWSERDL_MIND_LIB")
    if library:  # a Mind checkout with its dependencies: the real library judges the file
        parity = verify(ws, MIND, folder, libraries={"mind": Path(library)})
        assert parity.ok and parity.max_diff is not None and parity.max_diff <= 1e-4, parity.label


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(("fmt", "model_id", "reason"), [
    (MIND, "dnn-d1-w64", "layer 'dense_1' activation relu: Mind has sigmoid/htan only"),
    (MIND, "cnn-l6-w20", "layer 'conv5_1' (Conv2D): Mind has fully connected layers only"),
    (MIND, "rnn-l1-w8", "layer 'lstm_1' (LSTM): Mind has no recurrent layers"),
    (SYNAPTIC, "cnn-l6-w20", "layer 'conv5_1' (Conv2D): synaptic has no convolution layers"),
    (SYNAPTIC, "rnn-l1-w8", "layer 'lstm_1' (LSTM): synaptic's LSTM (peephole neurons, gated "
                            "self-connections) is not a Keras LSTM"),
])
def test_unsupported_models_are_refused_precisely(ws: Workspace, fmt: Any, model_id: str,
                                                  reason: str) -> None:
    outcome = convert_one(ws, model_id, fmt)
    assert outcome.refused == reason
    assert outcome.manifest is None and not outcome.folder.exists()
    assert not list(outcome.folder.parent.glob(f".{fmt.name}*"))  # no scratch left behind


def test_mind_refuses_biases_and_other_activations(ws: Workspace) -> None:
    source = read_source(ws, "dnn-d1-w64-tanh")[0]
    source.layers[0].weights["bias"] = np.zeros(64, dtype=np.float32)
    with pytest.raises(Unsupported, match=r"^layer 'dense_1' has biases: Mind's layers have none$"):
        MIND.write(source, Path("/nonexistent"))
    del source.layers[0].weights["bias"]
    source.layers[1].config["activation"] = "softmax"
    with pytest.raises(Unsupported, match=r"^layer 'dense_2' activation softmax: Mind has sigmoid/htan"):
        MIND.write(source, Path("/nonexistent"))
    source.layers[1].config["activation"] = "tanh"
    del source.layers[1]
    with pytest.raises(Unsupported, match="Mind needs at least one hidden layer"):
        MIND.write(source, Path("/nonexistent"))


def test_synaptic_refuses_activations_it_cannot_run(ws: Workspace) -> None:
    source = read_source(ws, "dnn-d1-w64")[0]
    source.layers[0].config["activation"] = "softmax"
    with pytest.raises(Unsupported, match=r"^layer 'dense_1' activation softmax: synaptic has no softmax"):
        SYNAPTIC.write(source, Path("/nonexistent"))
    source.layers[0].config["activation"] = "elu"
    with pytest.raises(Unsupported, match=r"^layer 'dense_1' activation elu: synaptic's squashes are"):
        SYNAPTIC.write(source, Path("/nonexistent"))
