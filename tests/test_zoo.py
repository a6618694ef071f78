import pytest

from browserdl.errors import UserError
from browserdl.models import zoo


def _params(model_id, **shape):
    model = zoo.parse(model_id).build(**shape)
    return model, sum(int(w.shape.num_elements()) for w in model.trainable_weights)


def test_dnn_parameters_and_flops():
    model, params = _params("dnn-d1-w64")
    assert params == 784 * 64 + 64 + 64 * 10 + 10 == 50_890
    assert zoo.count_flops(model) == 2 * (784 * 64 + 64 * 10)
    _, params = _params("dnn-d2-w128")
    assert params == 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    assert [layer.activation.__name__ for layer in model.layers] == ["relu", "softmax"]


def test_cnn_follows_the_tfjs_example_and_grid_stays_under_25m():
    model, params = _params("cnn-l6-w200")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    # 100 kernels per conv: 5·5·1·100+100, 5·5·100·100+100, then 4·4·100 → 10
    assert params == (25 * 100 + 100) + (25 * 100 * 100 + 100) + (4 * 4 * 100 * 10 + 10)
    for model_id in zoo.PRESETS["paper"]:
        if model_id.startswith("cnn-"):
            model, params = _params(model_id)
            assert len(model.layers) == int(model_id.split("-")[1][1:])
            assert params < 25_000_000, model_id


def test_rnn_lstm_parameters():
    model, params = _params("rnn-l2-w16", n_chars=30, seq_len=40)
    lstm1 = 4 * (30 + 16 + 1) * 16
    lstm2 = 4 * (16 + 16 + 1) * 16
    assert params == lstm1 + lstm2 + 16 * 30 + 30
    assert model.input_shape == (None, 40, 30)
    assert zoo.count_flops(model) == 40 * 2 * 4 * 16 * (30 + 16) + 40 * 2 * 4 * 16 * 32 + 2 * 16 * 30


def test_keras_application_builds_with_random_weights():
    model, params = _params("mobilenetv2")
    assert params == 3_504_872  # tf_keras MobileNetV2, 1000 classes
    assert model.input_shape == (None, 224, 224, 3)
    assert 250e6 < zoo.count_flops(model) < 700e6


def test_presets_and_selection():
    assert len(zoo.PAPER_41) == 12 and set(zoo.PAPER_41) <= set(zoo.PRESETS["paper"])
    assert {s.id for s in zoo.select(None, "dnn-d1-w*")} == {
        "dnn-d1-w64", "dnn-d1-w128", "dnn-d1-w256", "dnn-d1-w512",
        "dnn-d1-w64-tanh", "dnn-d1-w128-tanh", "dnn-d1-w256-tanh"}
    assert zoo.select(None, "dnn-d2-w64-tanh")[0].family.name == "dnn-tanh"
    assert [s.id for s in zoo.select("quick", "cnn-*")] == ["cnn-l6-w40"]
    assert zoo.select(None, "dnn-d3-w100")[0].fields == {"depth": 3, "width": 100}
    assert [s.id for s in zoo.select(None, None)] == zoo.PRESETS["quick"]


@pytest.mark.parametrize("pattern, message", [
    ("vgg16", "unknown model id 'vgg16'"),
    ("dnn-d0-w64", "unknown model id"),
    ("cnn-l4-w200", "at least 6 layers"),
    ("lstm-*", "no model matches 'lstm-\\*'"),
])
def test_bad_model_selection_is_refused(pattern, message):
    with pytest.raises(UserError, match=message):
        zoo.select(None, pattern)
    with pytest.raises(UserError, match="unknown preset"):
        zoo.select("huge", None)
