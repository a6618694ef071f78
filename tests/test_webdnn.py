"""WebDNN formats: descriptors from the PyPI transpiler, judged by webdnn.js in headless Chromium."""

from __future__ import annotations

import re
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from browserdl.converter import FORMATS, webdnn_compat
from browserdl.converter.base import Manifest, Unsupported
from browserdl.converter.convert import Outcome, convert, read_source
from browserdl.converter.source import Layer, SourceModel
from browserdl.converter.webdnn import graph
from browserdl.loaders.parity import reference, verify
from browserdl.loaders.session import BrowserSession
from browserdl.workspace import Workspace

EMSCRIPTEN = webdnn_compat.emscripten_env()  # the variables em++ needs, or why it can't run
needs_emscripten = pytest.mark.skipif(isinstance(EMSCRIPTEN, str),
                                      reason=f"webdnn-webassembly {EMSCRIPTEN}")
DNN_PARAMS = 784 * 64 + 64 + 64 * 10 + 10  # dnn-d1-w64


@pytest.fixture(scope="module")
def ws(tmp_path_factory, trained) -> Workspace:
    """dnn-d1-w64 (from the session) plus a small CNN and a small LSTM."""
    root = tmp_path_factory.mktemp("webdnn")
    shutil.copytree(trained / "models", root / "models")
    ran = run_cli(root, "train", "--models", "cnn-l6-w20,rnn-l1-w8")
    assert ran.code == 0, ran.err
    return Workspace.open(root)


@pytest.fixture(scope="module")
def session(ws):
    with BrowserSession(ws) as s:
        yield s


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


def _source(*layers: Layer, input_shape: tuple[int, ...] = (784,)) -> SourceModel:
    return SourceModel("synthetic", Path("model.h5"), {"class_name": "Sequential"}, list(layers),
                       input_shape, "2.19")


def _dense(name: str, activation: str, n_in: int = 784, n_out: int = 10) -> Layer:
    return Layer(name, "Dense", {"name": name, "activation": activation, "use_bias": True},
                 {"kernel": np.ones((n_in, n_out), np.float32), "bias": np.ones(n_out, np.float32)})


@pytest.mark.parametrize(("layers", "input_shape", "message"), [
    ([Layer("bn", "BatchNormalization", {})], (784,),
     "layer 'bn' (BatchNormalization): no WebDNN mapping"),
    ([_dense("d", "elu")], (784,), "layer 'd' (Dense): activation 'elu'"),
    ([Layer("c", "Conv2D", {"kernel_size": [4, 4], "strides": [1, 1], "padding": "same"},
            {"kernel": np.zeros((4, 4, 1, 2), np.float32), "bias": np.zeros(2, np.float32)})],
     (28, 28, 1), "layer 'c' (Conv2D): 'same' padding of 3 is uneven"),
    ([Layer("lstm", "LSTM", {"units": 8})], (10, 5),
     "layer 'lstm' (LSTM): WebDNN 1.2.11 has no LSTM kernel for the webgl backend"),
])
def test_refuses_precisely_what_it_cannot_express(layers, input_shape, message):
    with pytest.raises(Unsupported, match="^" + re.escape(message)):
        graph(_source(*layers, input_shape=input_shape), "webgl")


def test_lstm_is_refused_on_fallback_and_webgl_and_nothing_is_written(ws, converted):
    for fmt in ("webdnn-fallback", "webdnn-webgl"):
        outcome = converted("rnn-l1-w8", fmt)
        assert outcome.refused == (f"layer 'lstm_1' (LSTM): WebDNN 1.2.11 has no LSTM kernel for the "
                                   f"{fmt[7:]} backend (webassembly and webgpu only)")
        assert not outcome.folder.exists()


def test_fallback_files_hold_the_keras_weights_byte_for_byte(ws, converted):
    outcome = converted("dnn-d1-w64", "webdnn-fallback")
    folder = outcome.folder
    assert {f.name for f in outcome.manifest.files} == {
        "graph_fallback.json", "kernels_fallback.js", "weight_fallback.bin"}
    source, _ = read_source(ws, "dnn-d1-w64")
    expected = np.concatenate([a.ravel() for layer in source.layers
                               for a in (layer.weights["kernel"], layer.weights["bias"])])
    assert (folder / "weight_fallback.bin").read_bytes() == expected.astype("<f4").tobytes()
    assert (folder / "weight_fallback.bin").stat().st_size == 4 * DNN_PARAMS == 203_560
    assert "dnn_fallback_kernel" in (folder / "kernels_fallback.js").read_text()


def test_webgl_keeps_the_one_texture_size_the_runtime_loads(ws, converted):
    outcome = converted("dnn-d1-w64", "webdnn-webgl")
    assert outcome.manifest.entry == "graph_webgl_4096.json"
    assert {f.name for f in outcome.manifest.files} == {"graph_webgl_4096.json", "weight_webgl_4096.bin"}
    # WebGL stores the kernels transposed: the same values, in another order
    source, _ = read_source(ws, "dnn-d1-w64")
    expected = np.concatenate([a.ravel() for layer in source.layers for a in layer.weights.values()])
    got = np.fromfile(outcome.folder / "weight_webgl_4096.bin", dtype="<f4")
    np.testing.assert_array_equal(np.sort(got), np.sort(expected))


@pytest.mark.browser
@pytest.mark.parametrize("fmt", ["webdnn-fallback", "webdnn-webgl"])
@pytest.mark.parametrize("model", ["dnn-d1-w64", "cnn-l6-w20"])
def test_round_trip_through_webdnn_in_chromium(ws, session, converted, model, fmt):
    outcome = converted(model, fmt)
    parity = verify(ws, FORMATS[fmt], outcome.folder, session=session)
    assert parity.ok, parity.label
    assert parity.max_diff <= 1e-4 and parity.argmax_equal == parity.n == 32


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["fallback", "webgl",
                                     pytest.param("webassembly", marks=needs_emscripten)])
def test_the_backend_reported_is_the_backend_asked(ws, session, converted, backend):
    outcome = converted("dnn-d1-w64", f"webdnn-{backend}")
    ref = reference(ws, "dnn-d1-w64")
    result = session.run(adapter="webdnn", backend=backend, formatUrl=session.url(outcome.folder),
                         inputUrl=session.url(ref.input_path), shape=list(ref.inputs.shape))
    assert result["backend"] == backend
    assert result["shape"] == [32, 10] and result["page_errors"] == []
    assert set(result["phases"]) >= {"library", "download", "parse", "build", "first_batch"}


@pytest.mark.browser
@needs_emscripten
@pytest.mark.parametrize("model", ["dnn-d1-w64", "cnn-l6-w20", "rnn-l1-w8"])
def test_webassembly_round_trip_lstm_included(ws, session, converted, model):
    outcome = converted(model, "webdnn-webassembly")
    names = {f.name for f in outcome.manifest.files}
    assert names == {"graph_webassembly.json", "kernels_webassembly.js", "kernels_webassembly.wasm",
                     "weight_webassembly.bin"}
    assert (outcome.folder / "kernels_webassembly.wasm").read_bytes()[:4] == b"\0asm"
    parity = verify(ws, FORMATS["webdnn-webassembly"], outcome.folder, session=session)
    assert parity.ok, parity.label
    assert parity.max_diff <= 1e-4 and parity.argmax_equal == 32


def test_webassembly_without_emscripten_is_refused_with_what_to_install(ws, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no em++ anywhere
    scratch = Workspace.open(tmp_path / "ws")  # a refusal removes an older conversion: not ws's
    shutil.copytree(ws.model_dir("dnn-d1-w64"), scratch.model_dir("dnn-d1-w64"))
    source, digest = read_source(scratch, "dnn-d1-w64")
    outcome = convert(scratch, source, FORMATS["webdnn-webassembly"], digest)
    assert outcome.refused == ("webdnn-webassembly needs emscripten's em++ at conversion time "
                               "(Debian: apt-get install emscripten)")


@pytest.mark.browser
def test_eightbit_weights_are_smaller_and_within_the_uint8_bound(ws, session, converted):
    raw = converted("dnn-d1-w64", "webdnn-fallback").manifest
    small = converted("dnn-d1-w64", "webdnn-fallback-8bit")
    weight = next(f for f in small.manifest.files if f.name == "weight_fallback.bin")
    assert weight.bytes < next(f.bytes for f in raw.files if f.name == weight.name) / 3
    parity = verify(ws, FORMATS["webdnn-fallback-8bit"], small.folder, session=session)
    assert parity.ok, parity.label
    assert 1e-4 < parity.max_diff <= 0.1  # really quantized, within the stated bound


def _copy(outcome: Outcome, tmp_name: str) -> Path:
    folder = outcome.folder.with_name(tmp_name)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(outcome.folder, folder)
    return folder


@pytest.mark.browser
def test_tampered_weights_fail_parity(ws, session, converted):
    folder = _copy(converted("dnn-d1-w64", "webdnn-webgl"), "webdnn-webgl-tampered")
    weights = folder / "weight_webgl_4096.bin"
    np.fromfile(weights, dtype="<f4")[::-1].tofile(weights)  # same size, values moved
    parity = verify(ws, FORMATS["webdnn-webgl"], folder, session=session)
    assert parity.status == "failed" and parity.message.startswith("max |diff|")


@pytest.mark.browser
def test_truncated_weights_fail_parity_with_a_clear_message(ws, session, converted):
    folder = _copy(converted("dnn-d1-w64", "webdnn-fallback"), "webdnn-fallback-truncated")
    weights = folder / "weight_fallback.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    parity = verify(ws, FORMATS["webdnn-fallback"], folder, session=session)
    assert parity.status == "failed"
    assert "weight_fallback.bin has 1000 bytes, the manifest says 203560 (truncated" in parity.message
    assert len(parity.label.splitlines()) == 1


@pytest.mark.browser
@pytest.mark.parametrize(("fmt", "name", "message"), [
    ("webdnn-fallback", "weight_fallback.bin", "(truncated or replaced)"),
    ("webdnn-fallback", "kernels_fallback.js", "kernels_fallback.js did not define"),
    pytest.param("webdnn-webassembly", "kernels_webassembly.wasm", "not a valid WebAssembly module",
                 marks=needs_emscripten),
])
def test_broken_files_stop_the_page_with_a_one_line_reason(ws, session, converted, fmt, name, message):
    folder = _copy(converted("dnn-d1-w64", fmt), f"{fmt}-broken")
    path = folder / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if name.endswith(".bin") else bytes(len(data)))
    manifest = Manifest.load(folder)
    ref = reference(ws, "dnn-d1-w64")
    with pytest.raises(RuntimeError) as raised:  # the adapter's own timeouts bound every wait
        session.run(adapter="webdnn", backend=FORMATS[fmt].backend, formatUrl=session.url(folder),
                    inputUrl=session.url(ref.input_path), shape=list(ref.inputs.shape))
    assert message in str(raised.value) and "\n" not in str(raised.value), raised.value
    assert manifest.format == fmt


def test_compat_shims_leave_the_process_as_they_found_it():
    limit, stack = sys.getrecursionlimit(), threading.stack_size()
    data = webdnn_compat.generate("fallback", graph(_source(_dense("d", "softmax")), "fallback"))
    assert len(data.constants) == 4 * (784 * 10 + 10)  # raw float32 kernel + bias
    assert (sys.getrecursionlimit(), threading.stack_size()) == (limit, stack)
