"""Bad input: one clear line on stderr, a non-zero exit, no traceback, nothing stored lost."""

import pytest
from conftest import run_cli


def _one_line_error(ran, *fragments):
    assert ran.code == 2, (ran.code, ran.err)
    assert len(ran.err_lines) == 1, ran.err
    assert ran.err_lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in ran.err_lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["train", "--models", "vgg16"], ["unknown model id 'vgg16'"]),
    (["train", "--models", "lstm-*"], ["no model matches 'lstm-*'"]),
    (["train", "--preset", "huge"], ["unknown preset 'huge'"]),
    (["measure", "loading"], ["no trained models", "browserdl train"]),
    (["measure", "loading", "--runtimes", "onnx"], ["unknown runtime(s) onnx"]),
    (["report"], ["no results"]),
    (["export"], ["no results store"]),
    (["export", "--format", "xml"], ["--format xml"]),
    (["train", "--weights", "mobilenetv2"], ["expected NAME=PATH"]),
])
def test_bad_input_gives_one_line(tmp_path, args, fragments):
    _one_line_error(run_cli(tmp_path / "ws", *args), *fragments)


def test_unwritable_workspace(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _one_line_error(run_cli(blocker / "ws", "report"), "is not writable", "--workspace")


def test_mnist_file_that_is_not_mnist(tmp_path):
    fake = tmp_path / "mnist.npz"
    fake.write_text("definitely not a zip")
    _one_line_error(run_cli(tmp_path / "ws", "train", "--models", "dnn-d1-w64", "--mnist",
                            str(fake)), "--mnist", "not a readable .npz")


def test_measure_unknown_glob_among_trained(trained):
    _one_line_error(run_cli(trained, "measure", "loading", "--models", "cnn-*"),
                    "no trained model matches 'cnn-*'", "trained: dnn-d1-w64")
    _one_line_error(run_cli(trained, "measure", "loading", "--models", "dnn-d9-w9"),
                    "browserdl train --models dnn-d9-w9")
