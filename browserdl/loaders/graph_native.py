"""Run a TensorFlow.js graph model (model.json "format": "graph-model" + binary shards) natively.

Why: tensorflowjs 4.22 converts no graph model back (its converter's --input_format has no
tfjs_graph_model: "invalid choice"). But `modelTopology` is a frozen TensorFlow GraphDef in JSON
whose Const values were moved to the weights manifest, so we rebuild it: parse the JSON, decode
each weight (float32/int32/bool/string; float16, and uint8/uint16 stored as `q * scale + min`)
into its Const node, and import the graph with `import_graph_def` in `wrap_function`.

Supported: TensorFlow's own fused ops as they are (_FusedMatMul, _FusedConv2D with activations its
CPU kernels have); TF.js-only ones split back into plain ops (FusedDepthwiseConv2dNative, Prelu,
a Prelu-fused contraction, a _FusedMatMul whose "bias" is no vector); v1 control flow (an LSTM's
Enter/Merge/Switch loop), or v2 (StatelessWhile with library functions), and TensorList ops.
Not: several inputs, a modelInitializer (hash tables). Only the first output is returned.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.quiet import import_quietly

tf = import_quietly("tensorflow")
from google.protobuf import json_format  # noqa: E402  (after TensorFlow's quiet import)
from tensorflow.core.framework import types_pb2  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402

# activations TensorFlow 2.19's CPU kernels of _FusedMatMul/_FusedConv2D accept after BiasAdd
NATIVE_FUSED = {"Relu", "Relu6", "Elu", "LeakyRelu", "Tanh", "Sigmoid"}
CONTRACTION = {"_FusedMatMul": "MatMul", "_FusedConv2D": "Conv2D",
               "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
CONV = ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")
KEEP_ATTRS = {"MatMul": ("T", "transpose_a", "transpose_b"), "Conv2D": CONV, "DepthwiseConv2dNative": CONV}


class GraphFunction:
    """The rebuilt graph as a callable: one input, its outputs in the signature's order."""

    def __init__(self, fn: Any, input_name: str, input_shape: list[int | None], input_dtype: Any,
                 output_names: list[str]) -> None:
        self._fn, self._dtype = fn, input_dtype
        self.input_name, self.input_shape, self.output_names = input_name, input_shape, output_names

    def on_tensor(self, t: Any) -> Any:
        """The first output for a tensor input: what the native worker times."""
        return self._fn(t)[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self._fn(tf.constant(np.asarray(x, dtype=self._dtype.as_numpy_dtype)))
        return np.asarray(out[0], dtype=np.float32)


def _decode(folder: Path, manifest: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Weight name -> array, as tensorflowjs's write_weights laid them out (groups of shards)."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        for shard in (p for p in group["paths"] if not (folder / p).is_file()):
            raise RuntimeError(f"weight shard {shard} missing from {folder}")
        buf, offset = b"".join((folder / p).read_bytes() for p in group["paths"]), 0
        for w in group["weights"]:
            quant, shape = w.get("quantization"), [int(d) for d in w["shape"]]
            count = int(np.prod(shape))
            if w["dtype"] == "string":  # each value: uint32 little-endian byte length, then bytes
                values = []
                for _ in range(count):
                    n = int(np.frombuffer(buf, "<u4", 1, offset)[0])
                    values.append(buf[offset + 4:offset + 4 + n])
                    offset += 4 + n
                weights[w["name"]] = np.array(values, dtype=object).reshape(shape)
                continue
            stored = np.dtype(quant["dtype"] if quant else w["dtype"])
            if offset + count * stored.itemsize > len(buf):
                raise RuntimeError(f"weight {w['name']} runs past the end of shards {group['paths']} "
                                   f"({len(buf)} bytes)")
            value = np.frombuffer(buf, stored, count, offset).reshape(shape)
            offset += count * stored.itemsize
            if quant and quant["dtype"] in ("uint8", "uint16"):
                value = value * np.float64(quant["scale"]) + np.float64(quant["min"])
                if not np.issubdtype(np.dtype(w["dtype"]), np.floating):
                    value = np.round(value)
            weights[w["name"]] = value.astype(w["dtype"])
    return weights


def _split_fused(graph_def: Any) -> None:
    """Rewrite in place the fused nodes TensorFlow cannot run into plain ops; the last of the
    new nodes keeps the fused node's name so its consumers need no change."""
    nodes, rank = [], {n.name: len(n.attr["value"].tensor.tensor_shape.dim) for n in graph_def.node
                       if n.op == "Const"}
    for node in graph_def.node:
        fused = [s.decode() for s in node.attr["fused_ops"].list.s] if "fused_ops" in node.attr else []
        # the converter turns any Add after a MatMul into BiasAdd, so an LSTM's x@W + h@U arrives
        # as a _FusedMatMul with a 2-D "bias", which TF.js broadcasts and TensorFlow refuses
        vector_bias = len(node.input) > 2 and rank.get(node.input[2].split(":")[0]) == 1
        if node.op == "Prelu":
            steps: list[tuple[str, list[str], dict[str, Any]]] = []
            x, args = node.input[0], [node.input[1]]
            activation = "Prelu"
        elif node.op in CONTRACTION and (node.op == "FusedDepthwiseConv2dNative" or not vector_bias
                                         or not set(fused[1:]) <= NATIVE_FUSED):
            op = CONTRACTION[node.op]
            steps = [(op, list(node.input[:2]), {k: node.attr[k] for k in KEEP_ATTRS[op] if k in node.attr})]
            x, args = "", [i for i in node.input[2:] if not i.startswith("^")]
            if fused and fused[0] == "BiasAdd":  # AddV2 broadcasts as BiasAdd does, but in NCHW
                nchw = "data_format" in node.attr and node.attr["data_format"].s == b"NCHW"
                layout = {"T": node.attr["T"], **({"data_format": node.attr["data_format"]} if nchw else {})}
                steps.append(("BiasAdd" if nchw else "AddV2", ["", args.pop(0)], layout))
            elif fused and fused[0] != "NoOp":
                raise RuntimeError(f"node {node.name}: cannot split {node.op} fusing {fused}")
            activation = fused[1] if len(fused) > 1 else ""
        else:
            nodes.append(node)
            continue
        t = {"T": node.attr["T"] if "T" in node.attr else tf.compat.v1.AttrValue(type=types_pb2.DT_FLOAT)}
        if activation == "Prelu":  # relu(y) + alpha * (y - relu(y))
            ya, yb = (x, x) if x else ("@-1", "@-2")  # y: the input, or the step before the Relu
            steps += [("Relu", [ya], t), ("Sub", [yb, "@-1"], t), ("Mul", [args[0], "@-1"], t),
                      ("AddV2", ["@-3", "@-1"], t)]
        elif activation == "LeakyRelu":
            steps.append(("LeakyRelu", [x], {**t, "alpha": node.attr["leakyrelu_alpha"]}))
        elif activation in NATIVE_FUSED:
            steps.append((activation, [x], t))
        elif activation:
            raise RuntimeError(f"node {node.name}: unsupported fused activation {activation} in {node.op}")
        names = [f"{node.name}/_split{i}" for i in range(len(steps) - 1)] + [node.name]
        for i, (op, inputs, attrs) in enumerate(steps):
            # "" is the previous step's output (or the contraction input x); "@-k" the k-th back
            ins = [names[i + int(s[1:])] if s.startswith("@") else (s or names[i - 1]) for s in inputs]
            new = tf.compat.v1.NodeDef(name=names[i], op=op, input=ins, device=node.device)
            for key, value in attrs.items():
                new.attr[key].CopyFrom(value)
            nodes.append(new)
        nodes[-len(steps)].input.extend(i for i in node.input if i.startswith("^"))
    del graph_def.node[:]
    graph_def.node.extend(nodes)


def _nodes(graph_def: Any) -> list[Any]:
    return [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]


def _rename_functions(graph_def: Any) -> set[str]:
    """Give the library's functions (control flow v2 bodies) fresh names: one of the same name
    already in this process, e.g. from the converter's own trace of the model, would clash."""
    tag = uuid.uuid4().hex[:8]
    new = {f.signature.name: f"{f.signature.name}_gn{tag}" for f in graph_def.library.function}
    for f in graph_def.library.function:
        f.signature.name = new[f.signature.name]
    for node in _nodes(graph_def):
        node.op = new.get(node.op, node.op)
        for attr in node.attr.values():
            for func in [attr.func] if attr.HasField("func") else attr.list.func:
                func.name = new.get(func.name, func.name)
    return set(new.values())


def load(folder: Path) -> GraphFunction:
    """Rebuild folder's model.json graph model as a TensorFlow function (see the module doc)."""
    folder = Path(folder)
    try:
        model = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as e:
        raise RuntimeError(f"cannot read {folder / 'model.json'}: {e}") from None
    if not isinstance(model, dict) or model.get("format") != "graph-model":
        raise RuntimeError(f"{folder / 'model.json'} is not a TF.js graph model (format must be graph-model)")
    if model.get("modelInitializer"):
        raise RuntimeError("graph models with a modelInitializer (hash tables) are not supported")
    try:
        graph_def = json_format.ParseDict(model["modelTopology"], tf.compat.v1.GraphDef())
        weights = _decode(folder, model["weightsManifest"])
        inputs = list(model["signature"]["inputs"].values())
        output_names = [o["name"] for o in model["signature"]["outputs"].values()]
    except (KeyError, TypeError, AttributeError, json_format.ParseError) as e:
        raise RuntimeError(f"malformed model.json: {type(e).__name__} {e}") from None
    if len(inputs) != 1:
        raise RuntimeError(f"the graph has {len(inputs)} inputs; only single-input models are supported")
    for node in (n for n in _nodes(graph_def) if n.op == "Const"):  # in functions: "<function>/<node>"
        if node.name not in weights:
            raise RuntimeError(f"Const node {node.name} has no weight in the manifest")
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
        value = weights[node.name] if dtype is object else weights[node.name].astype(dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    _split_fused(graph_def)
    functions = _rename_functions(graph_def)
    for node in _nodes(graph_def):
        if op_def_registry.get(node.op) is None and node.op not in functions:
            raise RuntimeError(f"op {node.op} (node {node.name}) is not a TensorFlow op")
    spec = inputs[0]
    dims = [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
    dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(spec.get("dtype", "DT_FLOAT")))
    try:
        wrapped = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
        fn = wrapped.prune([wrapped.graph.as_graph_element(spec["name"])],
                           [wrapped.graph.as_graph_element(n) for n in output_names])
    except (ValueError, KeyError, TypeError, tf.errors.OpError) as e:
        raise RuntimeError(f"TensorFlow cannot import the graph: {str(e).splitlines()[0]}") from None
    return GraphFunction(fn, spec["name"], [None if d < 0 else d for d in dims], dtype, output_names)
