"""Importing TensorFlow (and tensorflowjs) without the chatter they write at start-up."""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


def import_quietly(name: str) -> ModuleType:
    """Import `name` with file descriptors 1 and 2 silenced: TensorFlow's C++ start-up lines
    (cuDNN/cuFFT factory errors, absl warnings) come before its log level applies.
    Python exceptions still propagate with their message."""
    # Forced, not defaulted: TensorFlow sets it to 1 in any process that imported it, and
    # child processes inherit that.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # tensorflowjs → tensorflow_decision_forests prints an advert that imports IPython (not
    # installed) whenever sys.stdout is not a real file, e.g. under pytest: the import fails.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy", category=UserWarning)
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            return importlib.import_module(name)
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@contextmanager
def stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null for a block: Grappler's C++ "Starting new session" lines
    (absl, which TF_CPP_MIN_LOG_LEVEL does not reach) and tf_keras' logging warnings. Python
    exceptions still propagate with their message."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
