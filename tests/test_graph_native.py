"""graph_native: a TF.js graph model, written by tensorflowjs's own converter, run natively in
TensorFlow gives the Keras model's outputs (exactly in float32, within the quantization's error)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from browserdl.loaders import graph_native
from browserdl.quiet import import_quietly

keras = import_quietly("tf_keras")
converter = import_quietly("tensorflowjs.converters.converter")
L = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore:.*HDF5 file:UserWarning")
TOLERANCE = {"float32": 1e-5, "float16": 1e-2, "uint8": 0.1}
QUANTIZATION = {"float32": None, "float16": {"float16": True}, "uint8": {"uint8": True}}


def bias() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.1)  # zero biases would be folded away


def alpha() -> keras.initializers.Initializer:
    return keras.initializers.RandomUniform(0.1, 0.5)


def mlp() -> keras.Model:
    return keras.Sequential([L.Input((10,)), L.Dense(16, activation="relu", bias_initializer=bias()),
                             L.Dense(8, activation="tanh", bias_initializer=bias()),
                             L.Dense(3, activation="softmax", bias_initializer=bias())])


def cnn() -> keras.Model:
    """Conv2D + BatchNormalization + ReLU, a residual Add, both global poolings concatenated."""
    i = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, padding="same", bias_initializer=bias())(i)
    x = L.BatchNormalization(beta_initializer=bias(), moving_mean_initializer=bias(),
                             moving_variance_initializer=keras.initializers.RandomUniform(0.5, 2))(x)
    x = L.ReLU()(x)
    y = L.Conv2D(8, 3, padding="same", activation="relu", bias_initializer=bias())(x)
    y = L.DepthwiseConv2D(3, padding="same", bias_initializer=bias())(y)  # TF.js's own fused op
    y = L.Add()([x, y])
    c = L.Concatenate()([L.GlobalAveragePooling2D()(y), L.GlobalMaxPooling2D()(x)])
    return keras.Model(i, L.Dense(4, activation="softmax", bias_initializer=bias())(c))


def lstm() -> keras.Model:
    return keras.Sequential([L.Input((5, 3)), L.LSTM(6), L.Dense(2, bias_initializer=bias())])


def activations() -> keras.Model:
    """The fusions TensorFlow has no CPU kernel for: Prelu (alone and fused into Conv2D/MatMul)
    and FusedDepthwiseConv2dNative (with NoOp+Relu, BiasAdd+Relu6); LeakyRelu/Elu stay fused.
    Not DepthwiseConv2D(bias) → PReLU: tensorflowjs 4.22 miscompiles it (the PReLU's negative
    half reads the fused Relu's output), so TF.js itself differs from Keras there."""
    i = keras.Input((8, 8, 3))
    x = L.PReLU(alpha_initializer=alpha(), shared_axes=[1, 2])(
        L.Conv2D(6, 3, padding="same", bias_initializer=bias())(i))
    y = L.ReLU()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x))
    z = L.ReLU(max_value=6)(L.DepthwiseConv2D(3, padding="same", bias_initializer=bias())(x))
    s = L.Flatten()(L.PReLU(alpha_initializer=alpha())(L.Add()([y, z])))
    d = L.PReLU(alpha_initializer=alpha())(L.Dense(5, bias_initializer=bias())(s))
    e = L.LeakyReLU(0.3)(L.Dense(5, bias_initializer=bias())(d))
    return keras.Model(i, L.Dense(3, activation="elu", bias_initializer=bias())(e))


BUILDERS = {"mlp": mlp, "cnn": cnn, "lstm": lstm, "activations": activations}
CASES = [("mlp", "float32"), ("mlp", "float16"), ("mlp", "uint8"), ("cnn", "float32"),
         ("cnn", "float16"), ("cnn", "uint8"), ("lstm", "float32"),
         ("activations", "float32")]
# what the converter wrote, so each case exercises its part of the rebuild
CONVERTER_OPS = {"mlp": {"_FusedMatMul"}, "cnn": {"_FusedConv2D", "FusedDepthwiseConv2dNative", "ConcatV2"},
                 "lstm": {"Enter", "LoopCond", "TensorListReserve", "_FusedMatMul"},
                 "activations": {"Prelu", "FusedDepthwiseConv2dNative", "_FusedConv2D", "_FusedMatMul"}}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[keras.Model, Path]]:
    """Each model, seeded, saved as the HDF5 file the converter reads."""
    root = tmp_path_factory.mktemp("graph-native")
    out = {}
    for seed, (name, build) in enumerate(BUILDERS.items()):
        keras.utils.set_random_seed(seed)
        model = build()
        model.save(root / f"{name}.h5")
        out[name] = (model, root / f"{name}.h5")
    return out


def convert(h5: Path, quantization: str, **options: object) -> Path:
    out = h5.parent / f"{h5.stem}-{quantization}-{'-'.join(options)}"
    if not out.exists():
        converter.dispatch_keras_h5_to_tfjs_graph_model_conversion(
            str(h5), str(out), quantization_dtype_map=QUANTIZATION[quantization], **options)
    return out


def parity(model: keras.Model, folder: Path) -> tuple[graph_native.GraphFunction, float]:
    fn = graph_native.load(folder)
    x = np.random.default_rng(7).standard_normal((5, *model.input_shape[1:])).astype(np.float32)
    expected, got = model(x, training=False).numpy(), fn(x)
    assert got.shape == expected.shape and got.dtype == np.float32
    return fn, float(np.abs(got - expected).max())


def test_tensorflowjs_itself_converts_no_graph_model_back(capsys):
    with pytest.raises(SystemExit):
        converter.get_arg_parser().parse_args(
            ["--input_format=tfjs_graph_model", "--output_format=keras_saved_model", "m.json", "out"])
    assert "invalid choice: 'tfjs_graph_model'" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "quantization"), CASES)
def test_graph_model_matches_keras(built, name, quantization):
    model, h5 = built[name]
    folder = convert(h5, quantization)
    ops = {n["op"] for n in json.loads((folder / "model.json").read_text())["modelTopology"]["node"]}
    assert CONVERTER_OPS[name] <= ops
    fn, diff = parity(model, folder)
    assert diff <= TOLERANCE[quantization], f"{name} {quantization}: max |diff| {diff}"
    assert fn.input_shape == [None, *model.input_shape[1:]]
    assert fn.output_names == ["Identity:0"] and fn.input_name.endswith(":0")
    if quantization != "float32":  # the quantized weights were really decoded, not dropped
        assert diff > 0


def test_lstm_with_control_flow_v2(built):
    """StatelessWhile whose body and cond live in the GraphDef's function library."""
    model, h5 = built["lstm"]
    folder = convert(h5, "float32", control_flow_v2=True)
    assert json.loads((folder / "model.json").read_text())["modelTopology"]["library"]["function"]
    assert parity(model, folder)[1] <= 1e-5


@pytest.fixture
def broken(built, tmp_path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(convert(built["mlp"][1], "float32"), folder)
    return folder


def edit(folder: Path, change) -> None:
    model = json.loads((folder / "model.json").read_text())
    change(model)
    (folder / "model.json").write_text(json.dumps(model))


def test_truncated_model_json(broken):
    text = (broken / "model.json").read_text()
    (broken / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(RuntimeError, match=r"cannot read .*model\.json"):
        graph_native.load(broken)


def test_layers_model_is_refused(broken):
    edit(broken, lambda m: m.update(format="layers-model"))
    with pytest.raises(RuntimeError, match=r"not a TF\.js graph model"):
        graph_native.load(broken)


def test_missing_topology(broken):
    edit(broken, lambda m: m.pop("modelTopology"))
    with pytest.raises(RuntimeError, match=r"malformed model\.json: KeyError 'modelTopology'"):
        graph_native.load(broken)


def test_unknown_op_is_named(broken):
    edit(broken, lambda m: m["modelTopology"]["node"][-2].update(op="NoSuchOp"))
    with pytest.raises(RuntimeError, match=r"op NoSuchOp \(node .*\) is not a TensorFlow op"):
        graph_native.load(broken)


def test_missing_shard(broken):
    (broken / "group1-shard1of1.bin").unlink()
    with pytest.raises(RuntimeError, match=r"weight shard group1-shard1of1\.bin missing"):
        graph_native.load(broken)


def test_truncated_shard(broken):
    shard = broken / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="runs past the end of shards"):
        graph_native.load(broken)


def test_const_without_weight(broken):
    edit(broken, lambda m: m["weightsManifest"][0]["weights"].pop())  # also shortens the shard read
    with pytest.raises(RuntimeError, match=r"Const node .* has no weight in the manifest"):
        graph_native.load(broken)
