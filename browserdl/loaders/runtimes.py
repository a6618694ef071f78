"""The runtimes that run converted models, one line each: where they run and with which backends.

Each has a JS adapter, loaders/js/adapters/<name>.js, with the same small face (see tfjs.js);
`native` (TensorFlow) and `ort-native` (onnxruntime) run in Python (loaders/native.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

JS_DIR = Path(__file__).parent / "js"
PAGES_DIR = Path(__file__).parent / "pages"


@dataclass(frozen=True)
class Runtime:
    name: str
    backends: tuple[str, ...]
    in_node: bool  # parity runs in Node; otherwise in headless Chromium
    needs_user_library: bool = False  # not on the npm registry: `--lib NAME=PATH`
    package: str = ""  # the npm package whose version is recorded with every trial
    trains: str = ""  # the format a training run loads; "" = the library cannot train
    native: bool = False  # runs in Python on the CPU (loaders/native.py), not in a browser
    baseline: str = "native"  # the native runtime a browser/native ratio divides by

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
        Runtime("native", ("cpu",), in_node=False, trains="keras-h5", native=True),
        Runtime("tfjs", ("cpu", "wasm", "webgl", "webgpu"), in_node=True, package="@tensorflow/tfjs",
                trains="tfjs-layers"),
        Runtime("kerasjs", ("cpu", "gpu"), in_node=False, package="keras-js"),
        Runtime("webdnn", ("fallback", "webassembly", "webgl"), in_node=False, package="webdnn"),
        Runtime("convnetjs", ("cpu",), in_node=True, package="convnetjs", trains="convnetjs"),
        Runtime("brainjs", ("cpu",), in_node=True, package="brain.js", trains="brainjs"),
        Runtime("synaptic", ("cpu",), in_node=True, package="synaptic", trains="synaptic"),
        Runtime("mind", ("cpu",), in_node=True, needs_user_library=True, trains="mind"),
        Runtime("ort", ("wasm", "webgpu", "webgl"), in_node=True, package="onnxruntime-web",
                baseline="ort-native"),
        Runtime("ort-native", ("cpu",), in_node=False, native=True),
    )
}
