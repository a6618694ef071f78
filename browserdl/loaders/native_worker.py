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
from pathlib import Path
from typing import Any

CALLS = ("direct", "predict")  # model(x, training=False) | model.predict(x)


def _ms_since(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


def run(model_path: Path, runs: int, batch: int, call: str, seed: int = 0) -> dict[str, Any]:
    phases: list[dict[str, Any]] = []
    versions: dict[str, str] = {}

    def phase(name: str, value: float, unit: str = "ms", samples: list[float] | None = None) -> None:
        phases.append({"name": name, "value": value, "unit": unit, "samples": samples})

    def result(error: str | None = None) -> dict[str, Any]:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        phase("peak_rss", float(peak), "bytes")
        return {"ok": error is None, "error": error, "phases": phases, "versions": versions}

    start = time.perf_counter_ns()
    import numpy as np
    import tensorflow as tf
    import tf_keras

    phase("tf_import", _ms_since(start))
    versions.update(tensorflow=tf.__version__, tf_keras=tf_keras.__version__,
                    numpy=np.__version__)

    start = time.perf_counter_ns()
    try:
        model = tf_keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # any reason a file does not load is this trial's failure
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return result(f"cannot load {model_path.name}: {reason} (corrupt or truncated? "
                      f"retrain with `browserdl train --models {model_path.parent.name} --force`)")
    phase("load", _ms_since(start))

    rng = np.random.default_rng(seed)
    shape = model.input_shape[1:]
    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((batch, *shape), dtype=np.float32)
    infer = ((lambda x: model(x, training=False).numpy()) if call == "direct"
             else (lambda x: model.predict(x, batch_size=len(x), verbose=0)))

    def timed(x: Any) -> float:
        start = time.perf_counter_ns()
        infer(x)
        return _ms_since(start)

    phase("warmup", timed(one))
    samples = [timed(one) for _ in range(runs)]
    phase("inference", statistics.median(samples), samples=samples)
    phase("batch_warmup", timed(many))  # a new input shape: its first call is a warm-up too
    batch_samples = [timed(many) for _ in range(max(3, runs // 10))]
    phase("batch_inference", statistics.median(batch_samples), samples=batch_samples)
    return result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--call", choices=CALLS, default="direct")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = run(args.model, args.runs, args.batch, args.call)
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip TensorFlow's slow interpreter teardown: it is not part of any phase


if __name__ == "__main__":
    main()
