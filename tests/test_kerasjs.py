"""kerasjs: the Keras.js protobuf written from the schema, judged by the real Keras.js 1.0.3 in Chromium."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import train_workspace

from browserdl.converter import FORMATS
from browserdl.converter.base import Unsupported
from browserdl.converter.convert import convert, read_source
from browserdl.converter.kerasjs import build
from browserdl.converter.kerasjs_proto import decode
from browserdl.converter.source import SourceModel
from browserdl.loaders.parity import BOUNDS, compare, reference, verify
from browserdl.loaders.session import BrowserSession
from browserdl.workspace import Workspace, node_modules

# a DNN; a CNN with valid and same padding; stacked LSTMs (return_sequences, then the last state)
MODELS = ("dnn-d1-w64", "cnn-l9-w20", "rnn-l2-w8")
FMT = FORMATS["kerasjs"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return train_workspace(tmp_path_factory, "kerasjs", MODELS)


@pytest.fixture(scope="module")
def converted(ws: Workspace) -> dict[str, Path]:
    folders = {}
    for model_id in MODELS:
        source, digest = read_source(ws, model_id)
        outcome = convert(ws, source, FMT, digest)
        assert outcome.refused is None and outcome.manifest is not None
        folders[model_id] = outcome.folder
    return folders


@pytest.fixture(scope="module")
def session(ws: Workspace) -> Iterator[BrowserSession]:
    with BrowserSession(ws) as s:
        yield s


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """A bad file must fail, not hang: SIGALRM interrupts the wait for the page."""
    def expire(*_: object) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("model_id", MODELS)
def test_protobuf_holds_the_sequential_topology_and_exact_weights(ws, converted, model_id):
    source, _ = read_source(ws, model_id)
    data = (converted[model_id] / "model.bin").read_bytes()
    model = decode(data)
    assert (model.name, model.keras_version, model.backend) == (model_id, "2.19.0", "tensorflow")
    assert len(model.id) == 36  # a uuid, stable for the same source
    config = json.loads(model.model_config)
    assert config["class_name"] == "Sequential"
    layers = config["config"]
    assert [la["class_name"] for la in layers] == [la.class_name for la in source.layers]
    assert "InputLayer" not in {la["class_name"] for la in layers}
    assert layers[0]["config"]["batch_input_shape"] == [None, *source.input_shape]
    assert all("batch_input_shape" not in la["config"] for la in layers[1:])
    expected = [(la.name, p) for la in source.layers for p in ("kernel", "recurrent_kernel", "bias")
                if p in la.weights]
    assert [(w.layer_name, w.weight_name) for w in model.model_weights] == [
        (name, f"{name}/{p}:0") for name, p in expected]
    total = 0
    for w, (name, param) in zip(model.model_weights, expected, strict=True):
        original = next(la for la in source.layers if la.name == name).weights[param]
        assert w.type == "float32" and tuple(w.shape) == original.shape
        assert len(w.data) == 4 * original.size
        np.testing.assert_array_equal(np.frombuffer(w.data, dtype="<f4").reshape(w.shape), original)
        total += len(w.data)
    assert total + len(model.model_config) < len(data) < total + len(model.model_config) + 1024
    # Converting again writes the very same bytes (the id derives from the source file).
    again = build(source)[0].SerializeToString()
    assert again == data


def test_keras_js_own_decoder_reads_every_field(converted):
    """Keras.js's bundled decoder (lib/proto.js, run in Node) sees what the Python schema wrote."""
    path = converted["rnn-l2-w8"] / "model.bin"
    script = (
        "const p = require('keras-js/lib/proto.js').default;"
        "const m = p.Model.decode(require('fs').readFileSync(process.argv[1]));"
        "console.log(JSON.stringify({id: m.id, name: m.name, kv: m.kerasVersion, backend: m.backend,"
        " config: m.modelConfig, weights: m.modelWeights.map(w => [w.layerName, w.weightName,"
        " w.shape, w.type, w.data.length, Array.from(new Float32Array(Uint8Array.from(w.data).buffer)"
        ".slice(0, 3))])}));"
    )
    done = subprocess.run(["node", "-e", script, str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(node_modules())}, cwd=node_modules().parent)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    model = decode(path.read_bytes())
    assert (seen["id"], seen["name"], seen["kv"], seen["backend"], seen["config"]) == (
        model.id, model.name, model.keras_version, model.backend, model.model_config)
    assert len(seen["weights"]) == len(model.model_weights) == 8  # 2 LSTMs × 3 + Dense 2
    for got, w in zip(seen["weights"], model.model_weights, strict=True):
        assert got[:5] == [w.layer_name, w.weight_name, list(w.shape), w.type, len(w.data)]
        np.testing.assert_array_equal(np.float32(got[5]), np.frombuffer(w.data, dtype="<f4")[:3])


@pytest.mark.browser
@pytest.mark.parametrize("model_id", MODELS)
def test_round_trip_through_keras_js_cpu(ws, converted, session, model_id):
    parity = verify(ws, FMT, converted[model_id], session=session)
    assert parity.ok, parity.label
    assert parity.max_diff <= 1e-5 and parity.argmax_equal == parity.n == 32


def _gpu_probe(session: BrowserSession, folder: Path) -> dict:
    """Load a model with backend 'gpu' through the adapter and report which path it took."""
    context = session.driver.new_context()
    try:
        page = session.open_page(context, 60)
        script = """(async (formatUrl) => {
            const add = (src) => new Promise((ok, fail) => { const s = document.createElement('script');
              s.src = src; s.onload = ok; s.onerror = fail; document.head.appendChild(s); });
            await add('/js/adapters/kerasjs.js');
            await add('/node_modules/keras-js/dist/keras.min.js');
            const a = self.browserdlAdapters.kerasjs, lib = self.KerasJS;
            const backend = await a.setup(lib, 'gpu');
            const bytes = await (await fetch(formatUrl + '/model.bin')).arrayBuffer();
            const model = await a.build(lib, await a.parse(lib, new Map([['model.bin', bytes]]),
                                                           {entry: 'model.bin'}));
            const gl = document.createElement('canvas').getContext('webgl2');
            const info = gl.getExtension('WEBGL_debug_renderer_info');
            const layers = [...model.modelLayersMap.values()];
            return {backend, gpu: model.gpu, layersOnGpu: layers.every((l) => l.gpu),
                    kernelTextures: layers.filter((l) => l.weights.kernel)
                                          .every((l) => !!l.weights.kernel.glTexture),
                    renderer: gl.getParameter(info.UNMASKED_RENDERER_WEBGL)};
        })(%s).then(JSON.stringify)"""
        return json.loads(page.evaluate(script % json.dumps(session.url(folder)), 60))
    finally:
        context.close()


@pytest.mark.browser
def test_gpu_backend_really_runs_on_webgl2(ws, converted, session):
    probe = _gpu_probe(session, converted["cnn-l9-w20"])
    assert probe["backend"] == "gpu" and probe["gpu"] and probe["layersOnGpu"], probe
    assert probe["kernelTextures"], probe  # weights were uploaded as WebGL textures
    assert "SwiftShader" in probe["renderer"]  # here: a software GPU, labelled as such by reports
    for model_id in MODELS:
        ref = reference(ws, model_id)
        result = session.run(adapter="kerasjs", backend="gpu", formatUrl=session.url(converted[model_id]),
                             inputUrl=session.url(ref.input_path), shape=list(ref.inputs.shape))
        assert result["backend"] == "gpu" and result["page_errors"] == []
        parity = compare(ref.outputs, np.asarray(result["output"], dtype=np.float32), BOUNDS["float32"])
        assert parity.ok and parity.max_diff <= 1e-5, (model_id, parity.label)
        assert set(result["phases"]) == {"library", "download", "parse", "build", "first_batch"}


def _tamper(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "config":  # still a valid protobuf; the topology no longer fits the weights
        return data.replace(b'"units": 64', b'"units": 65', 1)
    # a valid file with the output kernel's signs flipped: it loads, the outputs are wrong
    model = decode(data)
    kernel = next(w for w in model.model_weights if w.weight_name == "output/kernel:0")
    kernel.data = (-np.frombuffer(kernel.data, dtype="<f4")).tobytes()
    return model.SerializeToString()


@pytest.mark.browser
@pytest.mark.parametrize("how, message", [
    ("truncated", "kerasjs: cannot decode model.bin: index out of range"),
    ("config", "kerasjs: layer dense_1 kernel has shape [784,64], its config implies [?,65]"),
    ("weights", "max |diff|"),
])
def test_bad_file_fails_parity_with_a_clear_message(ws, converted, session, tmp_path, how, message):
    folder = ws.formats / "dnn-d1-w64" / f"kerasjs-{how}"
    folder.mkdir()
    try:
        for name in ("manifest.json", "model.bin"):
            (folder / name).write_bytes((converted["dnn-d1-w64"] / name).read_bytes())
        (folder / "model.bin").write_bytes(_tamper((folder / "model.bin").read_bytes(), how))
        with deadline(60):
            parity = verify(ws, FMT, folder, session=session)
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert parity.status == "failed", parity
    assert message in parity.message and "\n" not in parity.message, parity.message


def _mutated(ws: Workspace, model_id: str, change) -> SourceModel:
    source, _ = read_source(ws, model_id)
    source = copy.deepcopy(source)
    change(source)
    return source


def _set(layer_index: int, **config):
    def change(source: SourceModel) -> None:
        source.layers[layer_index].config.update(config)
    return change


def _class(layer_index: int, name: str):
    def change(source: SourceModel) -> None:
        source.layers[layer_index].class_name = name
    return change


def _functional(source: SourceModel) -> None:
    """A functional model whose output layer reads the input, skipping dense_1: no chain."""
    source.model_config["class_name"] = "Functional"
    source.layers[0].inputs = source.layers[1].inputs = ["input_1"]


@pytest.mark.parametrize("model_id, change, message", [
    ("dnn-d1-w64", _functional,
     "layer 'output' (Dense) reads a layer other than the one before it: the kerasjs converter's "
     "Sequential file holds a plain stack of layers only"),
    ("dnn-d1-w64", _set(0, activation="gelu"),
     "layer dense_1 (Dense): activation 'gelu' has no equal in Keras.js 1.0.3"),
    ("dnn-d1-w64", _class(0, "DepthwiseConv2D"),
     "layer dense_1 (DepthwiseConv2D): Keras.js 1.0.3 has no such layer"),
    ("dnn-d1-w64", _class(0, "BatchNormalization"),
     "layer dense_1 (BatchNormalization): not mapped by this converter"),
    ("cnn-l9-w20", _set(0, groups=2), "layer conv5_1 (Conv2D): groups=2"),
    ("cnn-l9-w20", _set(0, activation="softmax"), "layer conv5_1 (Conv2D): softmax on a tensor of rank > 1"),
    ("cnn-l9-w20", _class(7, "GlobalMaxPooling2D"), "layer flatten_8 (GlobalMaxPooling2D): not mapped"),
    ("rnn-l2-w8", _set(0, stateful=True), "layer lstm_1 (LSTM): stateful=True"),
    ("rnn-l2-w8", _set(1, return_sequences=True), "layer output (Dense): input of rank 2"),
    ("rnn-l2-w8", _set(0, return_sequences=False), "layer lstm_2 (LSTM): input of rank 1"),
    ("rnn-l2-w8", _set(0, recurrent_activation="relu6"), "layer lstm_1 (LSTM): recurrent_activation 'relu6'"),
])
def test_refuses_what_keras_js_cannot_express(ws, model_id, change, message, tmp_path):
    source = _mutated(ws, model_id, change)
    with pytest.raises(Unsupported, match="^" + re.escape(message)):
        FMT.write(source, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.browser
def test_ambiguous_layer_names_are_renamed_and_still_load(ws, session):
    """'my_output/kernel:0' contains 'output/kernel', and Keras.js takes the first name matching
    '^.*output/kernel': the converter renames such layers rather than let weights be swapped."""
    def rename(source: SourceModel) -> None:
        source.layers[0].name = source.layers[0].config["name"] = "my_output"

    source = _mutated(ws, "dnn-d1-w64", rename)
    model, notes = build(source)
    assert any("renamed" in n for n in notes)
    names = [la["config"]["name"] for la in json.loads(model.model_config)["config"]]
    assert names == ["l0_dense", "l1_dense"]
    assert [w.weight_name for w in model.model_weights][:1] == ["l0_dense/kernel:0"]
    fmt = dataclasses.replace(FMT, name="kerasjs-renamed")
    _, digest = read_source(ws, "dnn-d1-w64")
    outcome = convert(ws, source, fmt, digest)
    parity = verify(ws, fmt, outcome.folder, session=session)
    assert parity.ok and parity.max_diff <= 1e-5, parity.label
