"""tfjs-graph (+ float16 / uint8 quantized): TensorFlow.js graph models, what most TF.js
deployments ship, written by the `tensorflowjs` package itself.

model.h5 → tf_keras SavedModel → frozen graph optimized by Grappler (bias and activation fused
into MatMul/Conv2D) → model.json (a GraphDef as JSON, format "graph-model") + weight shards.
`write_saved_model` converts a user's own SavedModel the same way.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import SourceModel
from browserdl.converter.tfjs_layers import LIBRARY, SHARD_BYTES
from browserdl.quiet import import_quietly, stderr_silenced

SIGNATURE = "serving_default"
TAGS = "serve"
# tfjs-converter 4.22's model_analysis.js: a graph holding one of these runs with executeAsync only
ASYNC_OPS = frozenset({
    "Switch", "Merge", "Enter", "Exit", "NextIteration", "StatelessIf", "StatelessWhile", "If",
    "While", "NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV5", "Where",
    "HashTable", "HashTableV2", "LookupTableImport", "LookupTableImportV2", "LookupTableFind",
    "LookupTableFindV2", "LookupTableSize", "LookupTableSizeV2"})


@contextmanager
def _own_tempdir() -> Iterator[None]:
    """Everything tensorflowjs (and TF's autograph) puts in the temp folder goes to a scratch
    folder removed afterwards: the Keras path saves its SavedModel at tempfile.mktemp() and
    deletes it only on success, so an unsupported op left a SavedModel in /tmp per attempt."""
    scratch = tempfile.mkdtemp(prefix="browserdl-tfjs-graph-")
    saved = tempfile.tempdir
    tempfile.tempdir = scratch
    try:
        yield
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(scratch, ignore_errors=True)


def _refuse_unsupported(exc: ValueError) -> None:
    """tensorflowjs' "Unsupported Ops in the model …\\nOpA, OpB" raised as our refusal."""
    text = str(exc)
    if text.startswith("Unsupported Ops"):
        ops = sorted(op.strip() for op in text.split("\n", 1)[-1].split(",") if op.strip())
        raise Unsupported(f"op(s) {', '.join(ops)}: TensorFlow.js 4.22 has no kernel for them "
                          "(tensorflowjs graph converter)") from None


def _dims(info: dict[str, Any]) -> str:
    dims = info.get("tensorShape", {}).get("dim", [])
    return "[" + ", ".join(str(d.get("size", "?")) for d in dims) + "]"


def describe(model_json: dict[str, Any], quantize: str | None) -> list[str]:
    """Notes on a written graph model: its signature, the output the adapter keeps, whether
    TF.js must run it asynchronously, and the weight encoding."""
    signature = model_json.get("signature", {})
    inputs = signature.get("inputs", {})
    outputs = signature.get("outputs", {})
    notes = ["signature " + SIGNATURE + ": input " +
             ", ".join(f"{k} {_dims(v)}" for k, v in inputs.items()) + " → output " +
             ", ".join(f"{k} = {v.get('name', '?')} {_dims(v)}" for k, v in outputs.items())]
    if len(outputs) > 1:
        notes.append(f"{len(outputs)} signature outputs: the adapter keeps the first, "
                     f"{next(iter(outputs))!r}, and drops the others")
    ops = {n["op"] for n in model_json["modelTopology"].get("node", [])}
    for function in model_json["modelTopology"].get("library", {}).get("function", []):
        ops |= {n["op"] for n in function.get("nodeDef", [])}
    if ops & ASYNC_OPS:
        notes.append(f"control flow or dynamic-shape ops ({', '.join(sorted(ops & ASYNC_OPS))}): "
                     "TF.js runs the graph with executeAsync, not execute")
    if quantize:
        notes.append(f"float32 weights quantized to {quantize} (affine min/scale per weight for "
                     "uint8; int32 constants stay); TF.js dequantizes to float32 at load")
    return notes


def _dtype_map(quantize: str | None) -> dict[str, bool] | None:
    return {quantize: True} if quantize else None


def _write(source: SourceModel, out_dir: Path, quantize: str | None = None) -> list[str]:
    if source.kind == "savedmodel":
        return write_saved_model(source.path, out_dir, quantize)
    if source.kind == "tfjs-graph":
        return _copy_users(source, out_dir, quantize)
    converter = import_quietly("tensorflowjs.converters.converter")
    try:
        with _own_tempdir(), stderr_silenced():
            converter.dispatch_keras_h5_to_tfjs_graph_model_conversion(
                str(source.path), str(out_dir), quantization_dtype_map=_dtype_map(quantize),
                weight_shard_size_bytes=SHARD_BYTES)
    except ValueError as exc:
        _refuse_unsupported(exc)
        raise
    model_json = json.loads((out_dir / "model.json").read_text())
    return ["tensorflowjs 4.22.0 `keras` → `tfjs_graph_model` conversion of model.h5 (through a "
            "tf_keras SavedModel, frozen and Grappler-optimized)", *describe(model_json, quantize)]


def write_saved_model(saved_model_dir: Path, out_dir: Path, quantize: str | None = None) -> list[str]:
    """Convert a TensorFlow SavedModel (signature serving_default, tags serve) into a TF.js graph
    model in `out_dir`; returns the notes. `quantize`: None, "float16" or "uint8". Raises
    Unsupported naming the ops TF.js lacks."""
    conversion = import_quietly("tensorflowjs.converters.tf_saved_model_conversion_v2")
    try:
        with _own_tempdir(), stderr_silenced():
            conversion.convert_tf_saved_model(
                str(saved_model_dir), str(out_dir), signature_def=SIGNATURE, saved_model_tags=TAGS,
                quantization_dtype_map=_dtype_map(quantize), weight_shard_size_bytes=SHARD_BYTES)
    except ValueError as exc:
        _refuse_unsupported(exc)
        raise
    model_json = json.loads((Path(out_dir) / "model.json").read_text())
    return ["tensorflowjs 4.22.0 `tf_saved_model` → `tfjs_graph_model` conversion "
            f"({Path(saved_model_dir).name}, signature {SIGNATURE}, tags {TAGS})",
            *describe(model_json, quantize)]


def _copy_users(source: SourceModel, out_dir: Path, quantize: str | None) -> list[str]:
    """An added TF.js graph model: its own files, unchanged (re-encoding is the user's call)."""
    if quantize:
        raise Unsupported(f"{source.id} is your own TF.js graph model: browserdl times it as "
                          f"given (quantize it with tensorflowjs_converter --quantize_{quantize})")
    for file in source.path.iterdir():
        shutil.copyfile(file, out_dir / file.name)
    model_json = json.loads((out_dir / "model.json").read_text())
    return ["your TF.js graph model, unchanged", *describe(model_json, None)]


READS = ("keras", "savedmodel", "tfjs-graph")
FORMATS = [
    Format("tfjs-graph", "tfjs", LIBRARY, _write, entry="model.json", reads=READS),
    Format("tfjs-graph-f16", "tfjs", LIBRARY, partial(_write, quantize="float16"),
           entry="model.json", precision="float16", variant=True, reads=READS),
    Format("tfjs-graph-u8", "tfjs", LIBRARY, partial(_write, quantize="uint8"),
           entry="model.json", precision="uint8", variant=True, reads=READS),
]
