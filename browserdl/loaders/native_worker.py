"""One cold native trial, run in a fresh Python process: `python -m browserdl.loaders.native_worker`.

Prints one JSON line: {"ok", "phases": [{name, value, unit, samples}], "error", "versions"}.
Timing is taken here, around each call, never by the parent around the process.
Kept import-light: TensorFlow's import is itself one of the things measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CALLS = ("direct", "predict")  # model(x, training=False) | model.predict(x)


def ms_since(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


class Phases:
    """What one worker measured, and the JSON line it prints (shared by ort_worker)."""

    def __init__(self) -> None:
        self.phases: list[dict[str, Any]] = []
        self.versions: dict[str, str] = {}

    def add(self, name: str, value: float, unit: str = "ms", samples: list[float] | None = None) -> None:
        self.phases.append({"name": name, "value": value, "unit": unit, "samples": samples})

    def result(self, error: str | None = None) -> dict[str, Any]:
        self.add("peak_rss", float(peak_rss()), "bytes")
        return {"ok": error is None, "error": error, "phases": self.phases, "versions": self.versions}


def peak_rss() -> int:
    """This process's peak resident memory in bytes. VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over fork and exec, so a worker started by a process holding TensorFlow (1 GiB)
    would report at least that."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def time_inference(phases: Phases, infer: Callable[[Any], Any], one: Any, many: Any, runs: int) -> None:
    """The protocol after loading: warm-up, `runs` single-sample calls, then a batch's warm-up
    (a new input shape) and its steady calls; every run is kept."""
    def timed(x: Any) -> float:
        start = time.perf_counter_ns()
        infer(x)
        return ms_since(start)

    phases.add("warmup", timed(one))
    samples = [timed(one) for _ in range(runs)]
    phases.add("inference", statistics.median(samples), samples=samples)
    phases.add("batch_warmup", timed(many))
    batch_samples = [timed(many) for _ in range(max(3, runs // 10))]
    phases.add("batch_inference", statistics.median(batch_samples), samples=batch_samples)


def emit(out: dict[str, Any]) -> None:
    """Print the result line and leave at once: the interpreter's (and TensorFlow's slow)
    teardown is not part of any phase."""
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)


def run(model_path: Path, runs: int, batch: int, call: str, seed: int = 0) -> dict[str, Any]:
    phases = Phases()
    start = time.perf_counter_ns()
    import numpy as np
    import tensorflow as tf
    import tf_keras

    phases.add("tf_import", ms_since(start))
    phases.versions.update(tensorflow=tf.__version__, tf_keras=tf_keras.__version__,
                           numpy=np.__version__)

    start = time.perf_counter_ns()
    try:
        model = tf_keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # any reason a file does not load is this trial's failure
        return phases.result(f"cannot load {model_path.name}: {first_line(exc)} (corrupt or truncated? "
                             f"retrain with `browserdl train --models {model_path.parent.name} --force`)")
    phases.add("load", ms_since(start))

    rng = np.random.default_rng(seed)
    shape = model.input_shape[1:]
    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((batch, *shape), dtype=np.float32)
    infer = ((lambda x: model(x, training=False).numpy()) if call == "direct"
             else (lambda x: model.predict(x, batch_size=len(x), verbose=0)))
    time_inference(phases, infer, one, many, runs)
    return phases.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--call", choices=CALLS, default="direct")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    emit(run(args.model, args.runs, args.batch, args.call))


if __name__ == "__main__":
    main()
