"""One cold native ONNX Runtime trial in a fresh Python process: `python -m browserdl.loaders.ort_worker`.

The same protocol as native_worker.py (TensorFlow), on the `onnx` format's model.onnx with
onnxruntime's CPU execution provider and its default threads (as a user gets it). Prints one
JSON line: {"ok", "phases": [{name, value, unit, samples}], "error", "versions"}.
Kept import-light: importing onnxruntime is the `library` phase.
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

from browserdl.loaders.native_worker import _ms_since

PROVIDER = "CPUExecutionProvider"


def run(model_path: Path, runs: int, batch: int, seed: int = 0) -> dict[str, Any]:
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
    import onnxruntime

    phase("library", _ms_since(start))
    versions.update(onnxruntime=onnxruntime.__version__, numpy=np.__version__)

    start = time.perf_counter_ns()
    try:
        session = onnxruntime.InferenceSession(str(model_path), providers=[PROVIDER])
    except Exception as exc:  # any reason a file does not load is this trial's failure
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return result(f"cannot load {model_path.name}: {reason} (convert again with `browserdl convert "
                      f"all-formats --models {model_path.parent.parent.name} --formats onnx --force`)")
    phase("load", _ms_since(start))

    (spec,) = session.get_inputs()
    shape = spec.shape[1:]  # after the batch dimension
    rng = np.random.default_rng(seed)
    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((batch, *shape), dtype=np.float32)

    def timed(x: Any) -> float:
        start = time.perf_counter_ns()
        session.run(None, {spec.name: x})
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
    args = parser.parse_args()
    out = run(args.model, args.runs, args.batch)
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)  # as native_worker: the interpreter's teardown is not part of any phase


if __name__ == "__main__":
    main()
