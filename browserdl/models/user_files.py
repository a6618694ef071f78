"""Reading a user's model file, one reader per kind: what it is, its shapes, its size, and the
copy browserdl keeps (`models/<id>/model.h5` for anything tf_keras reads, else `models/<id>/source/`).

Kinds: keras (HDF5 / .keras / a Keras SavedModel / a TF.js layers model: all become model.h5,
so every format can try), savedmodel (a SavedModel without Keras layers, e.g. a Keras 3 file's
export), tfjs-graph (a TF.js graph model) and onnx. Each reader raises UserError in one line.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.errors import UserError
from browserdl.quiet import import_quietly

# what `add` takes, for the one-line refusal of anything else
ACCEPTED = ("a Keras .h5/.hdf5 or .keras file, a SavedModel folder, a TF.js model.json "
            "(layers or graph) or its folder, an .onnx file")
SOURCE = "source"  # the folder under models/<id>/ for non-Keras kinds


@dataclass
class Read:
    """What a reader learned; `shape` keeps None for dynamic dimensions (batch excluded)."""

    kind: str  # keras | savedmodel | tfjs-graph | onnx
    how: str  # how browserdl read it, for meta.json and the report
    input_name: str
    shape: list[int | None]
    input_dtype: str
    output_dtypes: list[str]
    params: int | None
    flops: int | None  # None: not countable for this kind ("unknown", never a guess)
    layers: list[dict[str, Any]] = field(default_factory=list)  # keras: name, class, params
    ops: dict[str, int] = field(default_factory=dict)  # graph kinds: op type -> count
    loss: str | None = None
    run: Callable[[np.ndarray], np.ndarray] | None = None  # the native runtime, for shapes


def detect(path: Path) -> str:
    """The reader a path needs, by what is there (not by trust in the name alone)."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        if (path / "model.json").is_file():
            return "tfjs"
        raise UserError(f"{path} is a folder but no SavedModel (no saved_model.pb) and no TF.js "
                        f"model (no model.json); give {ACCEPTED}")
    suffix = path.suffix.lower()
    kinds = {".h5": "h5", ".hdf5": "h5", ".keras": "keras3", ".onnx": "onnx", ".json": "tfjs"}
    if suffix not in kinds:
        raise UserError(f"{path.name}: unsupported file type '{suffix or 'no extension'}'; "
                        f"give {ACCEPTED}")
    return kinds[suffix]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _keras(model: Any, how: str, out: Path) -> Read:
    """A tf_keras model: saved as out/model.h5 (what every format converts from)."""
    from browserdl.models.zoo import count_flops

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} "
                        "outputs; browserdl times single-input, single-output models")
    partial = out / "model.h5.partial"
    model.save(partial, save_format="h5", include_optimizer=False)
    partial.replace(out / "model.h5")
    try:
        flops: int | None = count_flops(model)
    except (AttributeError, TypeError, ValueError):  # a layer whose shapes are not fixed
        flops = None
    loss = getattr(model, "loss", None)
    loss = getattr(loss, "__name__", loss)  # a compiled model holds the loss function itself
    return Read("keras", how, model.inputs[0].name, list(model.input_shape[1:]),
                model.inputs[0].dtype.name, [model.outputs[0].dtype.name],
                int(model.count_params()), flops,
                layers=[{"name": layer.name, "class": type(layer).__name__,
                         "params": layer.count_params()} for layer in model.layers],
                loss=loss if isinstance(loss, str) else None,
                run=lambda x: np.asarray(model(x, training=False)))


def read_h5(path: Path, out: Path) -> Read:
    tf_keras = import_quietly("tf_keras")
    try:
        try:
            model = tf_keras.models.load_model(path)
        except (ValueError, TypeError):  # e.g. a custom loss: the layers still load
            model = tf_keras.models.load_model(path, compile=False)
    except Exception as exc:  # h5py, Keras and TF raise many kinds
        if _keras3_file(path):
            return read_keras3(path, out)
        raise UserError(f"{path.name} is not a Keras model tf_keras can read "
                        f"({_first_line(exc)}); save it with model.save('model.h5')") from None
    return _keras(model, f"tf_keras {tf_keras.__version__} HDF5", out)


def _keras3_file(path: Path) -> bool:
    """Saved by Keras 3 (its configs carry `batch_shape`/`module` where tf_keras has others)."""
    try:
        import h5py

        with h5py.File(path, "r") as h5:
            return str(h5.attrs.get("keras_version", "")).startswith("3")
    except OSError:
        return False


def read_keras3(path: Path, out: Path) -> Read:
    """A Keras 3 file: tf_keras can't deserialize it, so it goes through Keras 3's own SavedModel
    export (no Keras layers survive: the graph formats and ONNX take it, the layer formats can't)."""
    tf_keras = import_quietly("tf_keras")
    try:
        model = tf_keras.models.load_model(path)  # a .keras written by tf_keras itself
        return _keras(model, f"tf_keras {tf_keras.__version__} .keras", out)
    except Exception:  # not tf_keras's: Keras 3's below
        pass
    keras = import_quietly("keras")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise UserError(f"{path.name} is not a Keras model Keras {keras.__version__} or tf_keras "
                        f"can read ({_first_line(exc)})") from None
    with tempfile.TemporaryDirectory() as scratch:
        exported = Path(scratch) / "saved_model"
        model.export(str(exported), verbose=False)
        read = read_savedmodel(exported, out)
    read.how = f"Keras {keras.__version__} file, exported as a SavedModel (Keras 3 → model.export)"
    return read


def read_savedmodel(path: Path, out: Path) -> Read:
    """A Keras SavedModel becomes model.h5; any other is kept as a SavedModel."""
    tf = import_quietly("tensorflow")
    if (path / "keras_metadata.pb").is_file():
        tf_keras = import_quietly("tf_keras")
        try:
            return _keras(tf_keras.models.load_model(path), "tf_keras SavedModel", out)
        except UserError:
            raise
        except Exception:  # then it is taken as a plain SavedModel
            pass
    try:
        loaded = tf.saved_model.load(str(path))  # kept alive below: it owns the variables
        signature = loaded.signatures["serving_default"]
    except (KeyError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{path} is not a SavedModel TensorFlow loads with a serving_default "
                        f"signature ({_first_line(exc)})") from None
    inputs = signature.structured_input_signature[1]
    outputs = signature.structured_outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserError(f"{path.name}: serving_default has {len(inputs)} inputs and {len(outputs)} "
                        "outputs; browserdl times single-input, single-output models")
    (name, spec), = inputs.items()
    (out_name, out_spec), = outputs.items()
    shutil.copytree(path, out / SOURCE / "saved_model")
    params = sum(int(np.prod(v.shape)) for v in getattr(signature, "variables", []))

    def run(x: np.ndarray, _owner: Any = loaded) -> np.ndarray:
        return signature(**{name: tf.constant(x)})[out_name].numpy()

    return Read("savedmodel", f"TensorFlow {tf.__version__} SavedModel (serving_default)", name,
                spec.shape.as_list()[1:], spec.dtype.name, [out_spec.dtype.name], params or None,
                None, run=run)


def read_tfjs(path: Path, out: Path) -> Read:
    """A TF.js model: a layers model back to Keras with tensorflowjs; a graph model kept as is."""
    folder = path if path.is_dir() else path.parent
    entry = path / "model.json" if path.is_dir() else path
    try:
        model_json = json.loads(entry.read_text())
        shards = [p for group in model_json["weightsManifest"] for p in group["paths"]]
        kind = model_json.get("format", "layers-model")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{entry} is not a TF.js model.json ({_first_line(exc)})") from None
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise UserError(f"{entry}: weight file {missing[0]} is missing beside it")
    if kind == "layers-model":
        converter = import_quietly("tensorflowjs.converters.converter")
        with tempfile.TemporaryDirectory() as scratch:
            h5 = Path(scratch) / "model.h5"
            try:
                converter.dispatch_tensorflowjs_to_keras_h5_conversion(str(entry), str(h5))
            except Exception as exc:
                raise UserError(f"{entry}: tensorflowjs cannot turn this layers model back into "
                                f"Keras ({_first_line(exc)})") from None
            read = read_h5(h5, out)
        read.how = "TF.js layers model, converted back to Keras by tensorflowjs"
        return read
    if kind != "graph-model":
        raise UserError(f"{entry}: unknown TF.js model format '{kind}' (layers-model or graph-model)")
    target = out / SOURCE / "tfjs-graph"
    target.mkdir(parents=True)
    for name in ("model.json", *shards):
        shutil.copyfile(folder / name if name != "model.json" else entry, target / name)
    signature = model_json.get("signature", {})
    (name, spec), = (signature.get("inputs") or {"?": {}}).items()
    dims = [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
    outputs = signature.get("outputs") or {}
    weights = [w for g in model_json["weightsManifest"] for w in g["weights"]]
    ops: dict[str, int] = {}
    for node in model_json.get("modelTopology", {}).get("node", []):
        ops[node["op"]] = ops.get(node["op"], 0) + 1
    return Read("tfjs-graph", "TF.js graph model, kept as is", name.split(":")[0],
                [d if d > 0 else None for d in dims[1:]], _tf_dtype(spec.get("dtype")),
                [_tf_dtype(o.get("dtype")) for o in outputs.values()],
                sum(math.prod(w["shape"]) for w in weights), None, ops=ops)


def _tf_dtype(name: str | None) -> str:
    return {"DT_FLOAT": "float32", "DT_INT32": "int32", None: "float32"}.get(name, str(name).lower())


def read_onnx(path: Path, out: Path) -> Read:
    onnx = import_quietly("onnx")
    ort = import_quietly("onnxruntime")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # protobuf, the checker and ORT raise many kinds
        raise UserError(f"{path.name} is not an ONNX model onnxruntime loads "
                        f"({_first_line(exc)})") from None
    if len(session.get_inputs()) != 1 or len(session.get_outputs()) != 1:
        raise UserError(f"{path.name} has {len(session.get_inputs())} inputs and "
                        f"{len(session.get_outputs())} outputs; browserdl times single-input, "
                        "single-output models")
    first, output = session.get_inputs()[0], session.get_outputs()[0]
    (out / SOURCE).mkdir(parents=True)
    shutil.copyfile(path, out / SOURCE / "model.onnx")
    ops: dict[str, int] = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    params = sum(math.prod(t.dims) for t in proto.graph.initializer)

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {first.name: x})[0]

    return Read("onnx", f"ONNX (opset {proto.opset_import[0].version}, producer "
                f"{proto.producer_name or 'unknown'})", first.name,
                [d if isinstance(d, int) else None for d in first.shape[1:]],
                _onnx_dtype(first.type), [_onnx_dtype(output.type)], params, None, ops=ops, run=run)


def _onnx_dtype(text: str) -> str:
    return {"tensor(float)": "float32", "tensor(int64)": "int64"}.get(text, text)


READERS: dict[str, Callable[[Path, Path], Read]] = {
    "h5": read_h5, "keras3": read_keras3, "savedmodel": read_savedmodel, "tfjs": read_tfjs,
    "onnx": read_onnx,
}
