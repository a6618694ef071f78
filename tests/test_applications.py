import h5py
import numpy as np
from conftest import run_cli


def test_application_takes_the_users_weights_file(tmp_path):
    """A Keras application is built, not trained; --weights loads the user's file into it."""
    import tf_keras

    tf_keras.utils.set_random_seed(99)  # weights unlike the project's seeded random ones
    source = tf_keras.applications.MobileNetV2(weights=None)
    weights = tmp_path / "mobilenetv2.weights.h5"
    source.save_weights(weights)
    expected = source.get_layer("Conv1").get_weights()[0]

    ws = tmp_path / "ws"
    ran = run_cli(ws, "train", "--models", "mobilenetv2", "--weights", f"mobilenetv2={weights}")
    assert ran.code == 0, ran.err
    assert "3,504,872" in ran.out
    with h5py.File(ws / "models" / "mobilenetv2" / "model.h5") as h5:
        stored = h5["model_weights/Conv1/Conv1/kernel:0"][()]
    np.testing.assert_array_equal(stored, expected)

    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as h5:
        h5["x"] = np.zeros(3)
    ran = run_cli(ws, "train", "--models", "mobilenetv2", "--force",
                  "--weights", f"mobilenetv2={wrong}")
    assert ran.code == 2 and len(ran.err_lines) == 1 and "cannot load into mobilenetv2" in ran.err, ran.err
