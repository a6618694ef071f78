"""The runtimes that run converted models, one record each: the framework declares itself here.

A runtime's formats are the converter's (`browserdl.converter.FORMATS`: each format names its
runtime), plus, for a native baseline, the other runtime's format its worker reads (`runs`).
Each non-native runtime has a JS adapter, loaders/js/adapters/<name>.js, with the same small face
(see tfjs.js); native runtimes (`native`: TensorFlow, `ort-native`: onnxruntime) run in Python,
in the worker module they name (loaders/native.py). doctor's package rows, finding 6's JSON
formats and the study's encodings are read from these records (tests/test_registry.py checks
that they agree with the formats and adapters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from browserdl.converter import FORMATS
from browserdl.loaders import native_worker, ort_worker  # import-light: their CALLS only

JS_DIR = Path(__file__).parent / "js"
PAGES_DIR = Path(__file__).parent / "pages"
# Backends that need a GPU context (software here): n/a on an engine that gives none.
GL_BACKENDS = ("webgl", "webgpu", "gpu")  # gpu: Keras.js's WebGL


@dataclass(frozen=True)
class Runtime:
    name: str
    backends: tuple[str, ...]
    in_node: bool  # parity runs in Node; otherwise in headless Chromium
    npm: tuple[str, ...] = ()  # npm packages it loads; the first one's version is recorded per trial
    python: tuple[str, ...] = ()  # Python packages its converter or worker imports; a native
    # runtime's first one is the library whose version labels its rows
    needs_user_library: bool = False  # not on the npm registry: `--lib NAME=PATH`
    trains: str = ""  # the format a training run loads; "" = the library cannot train
    native: bool = False  # runs in Python on the CPU (loaders/native.py), not in a browser
    baseline: str = "native"  # the native runtime a browser/native ratio divides by
    runs: tuple[str, ...] = ()  # formats written for another runtime that this one also runs
    worker: str = ""  # native: `python -m WORKER MODEL --runs N --batch N --calls C,… --threads T`
    calls: tuple[str, ...] = ()  # native: the calls its worker can time, in the order it times them
    json: bool = False  # its format is one JSON text (finding 6 compares it with binary weights)
    encodings: bool = False  # its formats are in the study's encodings comparison

    @property
    def package(self) -> str:
        """The npm package whose version is recorded with every trial ("" when none)."""
        return self.npm[0] if self.npm else ""

    @property
    def formats(self) -> tuple[str, ...]:
        """The converter formats it runs: those naming it as their runtime, then `runs`."""
        return tuple(n for n, f in FORMATS.items() if f.runtime == self.name) + self.runs

    def missing_library(self, libraries: Mapping[str, object]) -> str:
        """Why this runtime can't run without `--lib`, or "" when it can."""
        if self.needs_user_library and self.name not in libraries:
            return f"{self.name} is not on npm (--lib {self.name}=PATH)"
        return ""

    @property
    def adapter(self) -> Path:
        return JS_DIR / "adapters" / f"{self.name}.js"


NO_TRAINING = "no training API: the library runs inference only"

RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime("native", ("cpu",), in_node=False, python=("tensorflow", "tf_keras"), trains="keras-h5",
                native=True, worker="browserdl.loaders.native_worker", calls=native_worker.CALLS),
        Runtime("tfjs", ("cpu", "wasm", "webgl", "webgpu"), in_node=True,
                npm=("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgpu"),
                python=("tensorflowjs",), trains="tfjs-layers", encodings=True),
        Runtime("kerasjs", ("cpu", "gpu"), in_node=False, npm=("keras-js",), encodings=True),
        Runtime("webdnn", ("fallback", "webassembly", "webgl"), in_node=False, npm=("webdnn",),
                python=("webdnn",), encodings=True),
        Runtime("convnetjs", ("cpu",), in_node=True, npm=("convnetjs",), trains="convnetjs", json=True,
                encodings=True),
        Runtime("brainjs", ("cpu",), in_node=True, npm=("brain.js",), trains="brainjs", json=True,
                encodings=True),
        Runtime("synaptic", ("cpu",), in_node=True, npm=("synaptic",), trains="synaptic", json=True,
                encodings=True),
        Runtime("mind", ("cpu",), in_node=True, needs_user_library=True, trains="mind", json=True,
                encodings=True),
        Runtime("ort", ("wasm", "webgpu", "webgl"), in_node=True, npm=("onnxruntime-web",),
                python=("tf2onnx",), baseline="ort-native", encodings=True),
        Runtime("ort-native", ("cpu",), in_node=False, python=("onnxruntime",), native=True, runs=("onnx",),
                worker="browserdl.loaders.ort_worker", calls=(ort_worker.CALL,)),
    )
}


def json_formats() -> tuple[str, ...]:
    """The formats written as one JSON text (finding 6)."""
    return tuple(f for r in RUNTIMES.values() if r.json for f in r.formats)


def encodings(backends: Iterable[str]) -> list[str]:
    """The formats the study's encodings comparison times: every format of a runtime in it that
    runs on one of `backends` (quantized variants included: they are the point)."""
    wanted = set(backends)
    return [f for r in RUNTIMES.values() if r.encodings for f in r.formats
            if wanted & set(FORMATS[f].backends(r.backends))]


def npm_packages() -> list[str]:
    """Every npm package a runtime loads (doctor checks each)."""
    return list(dict.fromkeys(p for r in RUNTIMES.values() for p in r.npm))


def python_packages() -> list[str]:
    """Every Python package a runtime's converter or native worker imports (doctor checks each)."""
    return list(dict.fromkeys(p for r in RUNTIMES.values() for p in r.python))
