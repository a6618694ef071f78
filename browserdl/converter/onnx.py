"""onnx / onnx-webgl: ONNX files written by tf2onnx from the tf_keras model, run by ONNX Runtime.

- onnx:       model.onnx with a dynamic batch dimension, for ONNX Runtime Web's wasm and webgpu
              backends (not webgl, below) and native onnxruntime on the CPU.
- onnx-webgl: ORT Web's webgl backend checks input shapes against fixed dimensions (a named
              batch dimension fails: "expected shape '[,784]' but got [32,784]"), so one file per
              batch the harness runs: model-b1.onnx (single-sample inference) and
              model-b<N>.onnx (N = the parity batch). It cannot load LSTMs ("unrecognized input
              '' for node: LSTM"), so recurrent layers are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browserdl.converter.base import Format, Unsupported
from browserdl.converter.source import SourceModel
from browserdl.models import data
from browserdl.quiet import import_quietly, stderr_silenced

LIBRARY = "onnxruntime-web@1.30.0"
# tf2onnx 1.17's default; it supports up to 18, and 13-18 gave the same numbers here.
OPSET = 15
INPUT_NAME = "input"
BATCH_DIM = "batch"  # tf2onnx numbers it (unk__6, unk__11…) from a counter
RECURRENT = ("LSTM", "GRU", "SimpleRNN")


def _harness_batch(source: SourceModel) -> int:
    """The batch the harness runs this model with: an added model's own (its input.npy), else
    the task's, from its meta.json."""
    folder = source.path.parent if source.kind == "keras" else source.path.parents[1]
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
    return meta.get("batch") or data.check_batch(meta.get("task") or "")


def _convert(source: SourceModel, batch: int | None) -> Any:
    """The ONNX ModelProto of `source` with batch `batch` (None: a dimension named BATCH_DIM)."""
    if source.kind == "onnx":
        return _fix_batch(source, batch)
    tf = import_quietly("tensorflow")
    tf2onnx = import_quietly("tf2onnx")
    spec = (tf.TensorSpec((batch, *source.input_shape), tf.float32, name=INPUT_NAME),)
    with stderr_silenced():  # the TensorFlow optimizer tf2onnx runs logs through absl
        if source.kind == "savedmodel":
            loaded = tf.saved_model.load(str(source.path))  # kept: it owns the variables
            signature = loaded.signatures["serving_default"]
            (name,) = signature.structured_input_signature[1]
            (output,) = signature.structured_outputs
            function = tf.function(lambda x: signature(**{name: x})[output])
            proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
        else:
            tf_keras = import_quietly("tf_keras")
            model = tf_keras.models.load_model(source.path, compile=False)
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    if batch is None:
        for value in (*proto.graph.input, *proto.graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    _name_by_position(proto.graph)
    return proto


def _fix_batch(source: SourceModel, batch: int | None) -> Any:
    """The user's own ONNX file; for a fixed `batch` (ORT Web's webgl) its input and output dims
    pinned to the shapes the harness runs, and the inferred shapes left to be inferred again."""
    onnx = import_quietly("onnx")
    proto = onnx.load(str(source.path))
    if batch is None:
        return proto
    (value,) = proto.graph.input[:1]
    for dim, size in zip(value.type.tensor_type.shape.dim, (batch, *source.input_shape), strict=False):
        dim.Clear()
        dim.dim_value = size
    for value in proto.graph.output:
        if value.type.tensor_type.shape.dim:
            value.type.tensor_type.shape.dim[0].Clear()
            value.type.tensor_type.shape.dim[0].dim_value = batch
    del proto.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(proto)


def _name_by_position(graph: Any) -> None:
    """Name every node, intermediate value and initializer by its place in the graph.

    tf2onnx's names vary from one conversion to the next (its counter; which of two equal
    subgraphs, e.g. an LSTM's zero states, its optimizer keeps), so the same graph got different
    bytes. Graph input and output names stay."""
    names = {v.name: v.name for v in (*graph.input, *graph.output)}
    names[""] = ""  # an optional input left out
    constants = {c.name: c for c in graph.initializer}
    used: list[Any] = []  # initializers in the order nodes first read them
    for i, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{i}"
        for value in node.input:
            if value in constants and value not in names:
                names[value] = f"const_{len(used)}"
                used.append(constants[value])
        for j, value in enumerate(node.output):
            names.setdefault(value, f"{node.name}:{j}")
    unused = [c for c in graph.initializer if c.name not in names]
    ordered = [type(c)() for c in (*used, *unused)]
    for copy, c in zip(ordered, (*used, *unused), strict=True):
        copy.CopyFrom(c)
        copy.name = names.get(c.name, c.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    for info in graph.value_info:
        info.name = names.get(info.name, info.name)
    for node in graph.node:
        node.output[:] = [names[v] for v in node.output]
    _rename_inputs(graph, names)


def _rename_inputs(graph: Any, names: dict[str, str]) -> None:
    """Node inputs, in subgraphs too (a Loop body may read the outer graph's values)."""
    for node in graph.node:
        node.input[:] = [names.get(v, v) for v in node.input]
        for attribute in node.attribute:
            for sub in (attribute.g, *attribute.graphs):
                _rename_inputs(sub, names)


def _describe(proto: Any) -> str:
    def shape(value: Any) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
        return f"{value.name} [{', '.join(dims)}]"

    inputs = ", ".join(shape(v) for v in proto.graph.input)
    outputs = ", ".join(shape(v) for v in proto.graph.output)
    return f"input {inputs} → output {outputs}, float32, Keras's NHWC layout"


def _how(proto: Any) -> str:
    version = proto.producer_version.split()[0]
    return f"tf2onnx {version} from_keras, opset {OPSET}, ONNX IR version {proto.ir_version}"


def _write(source: SourceModel, out_dir: Path) -> list[str]:
    proto = _convert(source, None)
    (out_dir / "model.onnx").write_bytes(proto.SerializeToString())
    if source.kind == "onnx":
        return [f"the user's ONNX file, unchanged (producer {proto.producer_name or 'unknown'}, "
                f"opset {proto.opset_import[0].version})", _describe(proto)]
    return [_how(proto), _describe(proto),
            f"batch dimension dynamic, named '{BATCH_DIM}' (any batch size runs)"]


def _refuse_recurrent(source: SourceModel) -> None:
    for layer in source.layers:
        inner = layer.config.get("layer", {}).get("class_name")  # Bidirectional / TimeDistributed
        if layer.class_name in RECURRENT or inner in RECURRENT:
            raise Unsupported(f"layer {layer.name} ({layer.class_name}): ONNX Runtime Web's webgl "
                              "backend cannot load the ONNX LSTM/GRU/RNN operators (their optional "
                              "inputs: \"unrecognized input '' for node\")")


def _write_static(source: SourceModel, out_dir: Path) -> list[str]:
    _refuse_recurrent(source)
    batches = (1, _harness_batch(source))
    for batch in batches:
        proto = _convert(source, batch)
        (out_dir / f"model-b{batch}.onnx").write_bytes(proto.SerializeToString())
    return [_how(proto), _describe(proto),
            f"static shapes for ORT Web's webgl backend: one file per batch "
            f"({', '.join(f'model-b{b}.onnx' for b in batches)}: single-sample and batch runs); "
            "the adapter picks the file by the input's batch size (another size runs in chunks of these)"]


@dataclass(frozen=True)
class _DynamicBatch(Format):
    """A file with a named batch dimension: every ORT Web backend runs it but webgl."""

    def backends(self, runtime_backends: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(b for b in runtime_backends if b != "webgl")


FORMATS = [
    _DynamicBatch("onnx", "ort", LIBRARY, _write, entry="model.onnx", backend="wasm",
                  reads=("keras", "savedmodel", "onnx")),
    Format("onnx-webgl", "ort", LIBRARY, _write_static, entry="model-b1.onnx", backend="webgl",
           pinned=True, reads=("keras", "savedmodel", "onnx")),
]
