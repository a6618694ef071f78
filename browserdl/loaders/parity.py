"""Parity: the framework is the judge. Its real library loads the converted file, runs a fixed
batch of test inputs, and the outputs are compared with the Keras model's."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.converter.base import Format, Manifest
from browserdl.converter.source import NON_KERAS
from browserdl.loaders.runtimes import JS_DIR, RUNTIMES
from browserdl.models import data
from browserdl.quiet import import_quietly
from browserdl.workspace import Workspace, node_modules

NODE_TIMEOUT_S = 300
NODE_BACKENDS = ("cpu", "wasm")  # what a runtime's Node library runs; others need the browser


@dataclass(frozen=True)
class Bound:
    """Largest allowed |difference|; argmax may differ only where Keras' top-two margin is
    below `tie` (a near-tie that the allowed difference can flip)."""

    max_diff: float
    tie: float


BOUNDS = {"float32": Bound(1e-4, 0.0), "float16": Bound(1e-2, 1e-2), "uint8": Bound(0.1, 0.1)}


@dataclass
class Parity:
    status: str  # ok | failed | not installed
    message: str = ""
    max_diff: float | None = None
    argmax_equal: int | None = None
    n: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str:
        if self.status == "ok":
            return f"ok {self.max_diff:.1e}"
        if self.status == "not installed":
            return "runtime not installed"
        return f"FAILED: {self.message}"


@dataclass
class Reference:
    input_path: Path
    inputs: np.ndarray
    outputs: np.ndarray


def reference(ws: Workspace, model_id: str) -> Reference:
    """The fixed test batch and the native model's outputs for it, cached beside the formats:
    Keras on model.h5; an added model's own runtime on its own inputs (input.npy)."""
    folder = ws.formats / model_id / "reference"
    model_dir = ws.model_dir(model_id)
    stamped = [model_dir / "model.h5"] if (model_dir / "model.h5").is_file() else []
    stamped += [p for p in (model_dir / "meta.json", model_dir / "input.npy") if p.is_file()]
    stamp = {"mtime_ns": [p.stat().st_mtime_ns for p in stamped]}
    meta_path = folder / "reference.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()).get("stamp") == stamp:
        meta = json.loads(meta_path.read_text())
        inputs = np.fromfile(folder / "input.bin", dtype="<f4").reshape(meta["input_shape"])
        outputs = np.fromfile(folder / "expected.bin", dtype="<f4").reshape(meta["output_shape"])
        return Reference(folder / "input.bin", inputs, outputs)
    model_meta = json.loads((model_dir / "meta.json").read_text())
    task = model_meta["task"]
    if task == "user":
        inputs = np.load(model_dir / "input.npy").astype(np.float32)
        outputs = native_outputs(model_dir, model_meta, inputs)
    else:
        inputs = _test_inputs(task, ws)
        outputs = _run_native(model_dir / "model.h5", inputs)
    folder.mkdir(parents=True, exist_ok=True)
    inputs.astype("<f4").tofile(folder / "input.bin")
    outputs.astype("<f4").tofile(folder / "expected.bin")
    meta_path.write_text(json.dumps({"stamp": stamp, "input_shape": list(inputs.shape),
                                     "output_shape": list(outputs.shape), "task": task}))
    return Reference(folder / "input.bin", inputs, outputs)


def native_outputs(model_dir: Path, meta: dict[str, Any], inputs: np.ndarray) -> np.ndarray:
    """An added model on its own native runtime: TensorFlow (Keras, SavedModel, a TF.js graph
    rebuilt as a GraphDef) or onnxruntime."""
    kind = meta.get("kind", "keras")
    if kind == "keras":
        return _run_native(model_dir / "model.h5", inputs)
    source = model_dir / NON_KERAS[kind]
    try:
        if kind == "onnx":
            ort = import_quietly("onnxruntime")
            session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
            return np.asarray(session.run(None, {session.get_inputs()[0].name: inputs})[0],
                              dtype=np.float32)
        if kind == "savedmodel":
            tf = import_quietly("tensorflow")
            loaded = tf.saved_model.load(str(source))  # referenced until the call: its variables
            signature = loaded.signatures["serving_default"]
            (name,) = signature.structured_input_signature[1]
            (output,) = signature.structured_outputs
            return np.asarray(signature(**{name: tf.constant(inputs)})[output], dtype=np.float32)
        from browserdl.loaders import graph_native

        return np.asarray(graph_native.load(source)(inputs), dtype=np.float32)
    except RuntimeError:
        raise
    except Exception as exc:  # the runtime's own reason is the message
        raise RuntimeError(f"{kind} model {meta['id']} does not run natively: "
                           f"{str(exc).strip().splitlines()[0]}") from None


def _test_inputs(task: str, ws: Workspace) -> np.ndarray:
    n = data.check_batch(task)
    if task == "digits-flat":
        return data.load_digits(cache_dir=ws.cache).flat_test[:n]
    if task == "digits-image":
        return data.load_digits(cache_dir=ws.cache).x_test[:n]
    if task == "chars":
        seqs = data.char_sequences()
        return seqs.x[int(len(seqs.x) * 0.9):][:n]
    return np.random.default_rng(0).random((n, 224, 224, 3), dtype=np.float32)


def compare(expected: np.ndarray, got: np.ndarray, bound: Bound) -> Parity:
    n = len(expected)
    if got.size != expected.size:
        return Parity("failed", f"output has {got.size} values, Keras {expected.size}", n=n)
    got = got.reshape(expected.shape).reshape(n, -1)
    expected = expected.reshape(n, -1)
    if not np.isfinite(got).all():
        return Parity("failed", "output holds NaN or infinity", n=n)
    diff = float(np.abs(got - expected).max())
    same = got.argmax(1) == expected.argmax(1)
    top2 = np.sort(expected, axis=1)[:, -2:]
    near_tie = (top2[:, 1] - top2[:, 0]) < bound.tie
    parity = Parity("ok", max_diff=diff, argmax_equal=int(same.sum()), n=n)
    if diff > bound.max_diff:
        parity.status, parity.message = "failed", f"max |diff| {diff:.2e} > {bound.max_diff:.0e}"
    elif not (same | near_tie).all():
        parity.status = "failed"
        parity.message = f"argmax differs on {int((~same).sum())} of {n} inputs"
    return parity


def verify(ws: Workspace, fmt: Format, folder: Path, session: Any = None,
           libraries: dict[str, Path] | None = None) -> Parity:
    """Load the format in its runtime (Node, or the browser `session`) and compare outputs.

    A file that does not load, or a runtime that errors, is a failed parity with its message.
    """
    libraries = libraries or {}
    manifest = Manifest.load(folder)
    runtime = RUNTIMES[fmt.runtime]
    if runtime.needs_user_library and runtime.name not in libraries:
        return Parity("not installed", f"pass --lib {runtime.name}=PATH")
    try:
        ref = reference(ws, manifest.model)
    except RuntimeError as exc:  # an added model its own runtime can't run: nothing to compare with
        return Parity("failed", f"no reference: {exc}")
    try:
        got = run_format(ws, fmt, folder, ref, session, libraries)
    except RuntimeError as exc:
        return Parity("failed", str(exc), n=len(ref.inputs))
    return compare(ref.outputs, got, BOUNDS[fmt.precision])


def in_browser(fmt: Format) -> bool:
    """Whether `fmt`'s parity runs in Chromium: its runtime never runs in Node, or the format is
    pinned to a backend Node lacks (onnx-webgl: webgl)."""
    return not RUNTIMES[fmt.runtime].in_node or (fmt.pinned and fmt.backend not in NODE_BACKENDS)


def run_format(ws: Workspace, fmt: Format, folder: Path, ref: Reference, session: Any = None,
               libraries: dict[str, Path] | None = None) -> np.ndarray:
    """`fmt`'s runtime on `ref.inputs`: in tf_keras (native), Node, or Chromium (`session`, else
    one opened here: callers open none for a runtime that also runs in Node). A file that does not
    load, or a runtime that errors, raises RuntimeError with the library's message."""
    libraries = libraries or {}
    if fmt.runtime == "native":
        return _run_native(folder / fmt.entry, ref.inputs)
    if not in_browser(fmt):
        return _run_node(fmt.runtime, folder, ref, libraries.get(fmt.runtime))
    if session is None:
        from browserdl.loaders.session import BrowserSession

        with BrowserSession(ws, libraries=libraries) as own:
            return run_format(ws, fmt, folder, ref, own, libraries)
    result = session.run(adapter=fmt.runtime, backend=fmt.backend, formatUrl=session.url(folder),
                         inputUrl=session.url(ref.input_path), shape=list(ref.inputs.shape))
    return np.asarray(result["output"], dtype=np.float32)


def _run_native(path: Path, inputs: np.ndarray) -> np.ndarray:
    tf_keras = import_quietly("tf_keras")
    try:
        model = tf_keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"tf_keras cannot load {path.name}: {str(exc).splitlines()[0]}") from None
    return np.asarray(model(inputs, training=False), dtype=np.float32)


def _run_node(adapter: str, folder: Path, ref: Reference, library: Path | None) -> np.ndarray:
    out_path = folder.parent / f".{folder.name}.parity-out.bin"
    command = ["node", str(JS_DIR / "node_run.js"), adapter, str(folder), str(ref.input_path),
               ",".join(map(str, ref.inputs.shape)), str(out_path)]
    if library:
        command.append(str(library.resolve()))
    env = {**os.environ, "NODE_PATH": str(node_modules())}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=NODE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{adapter} in Node timed out after {NODE_TIMEOUT_S} s") from None
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{adapter} in Node crashed: {tail}") from None
    if not report.get("ok"):
        raise RuntimeError(f"{adapter}: {report.get('error')}")
    try:
        return np.fromfile(out_path, dtype="<f4")
    finally:
        out_path.unlink(missing_ok=True)
