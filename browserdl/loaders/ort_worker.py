"""One cold native ONNX Runtime trial in a fresh Python process: `python -m browserdl.loaders.ort_worker`.

The same protocol as native_worker.py (TensorFlow), on the `onnx` format's model.onnx with
onnxruntime's CPU execution provider, with its default threads (`all`: as a user gets it) or
one intra-op and one inter-op thread (`1`). Prints one JSON line in native_worker's shape, with
its one call, `run` (InferenceSession.run).
Kept import-light: importing onnxruntime is the `library` phase.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from browserdl.loaders.native_worker import Phases, emit, first_line, ms_since, time_inference

PROVIDER = "CPUExecutionProvider"


CALL = "run"


def run(model_path: Path, runs: int, batch: int, threads: str = "all", seed: int = 0,
        input_shape: list[int] | None = None) -> dict[str, Any]:
    phases = Phases()
    start = time.perf_counter_ns()
    import numpy as np
    import onnxruntime

    phases.add("library", ms_since(start))
    phases.versions.update(onnxruntime=onnxruntime.__version__, numpy=np.__version__)

    start = time.perf_counter_ns()
    try:
        options = onnxruntime.SessionOptions()
        if threads != "all":
            options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
        session = onnxruntime.InferenceSession(str(model_path), options, providers=[PROVIDER])
    except Exception as exc:  # any reason a file does not load is this trial's failure
        return phases.result(f"cannot load {model_path.name}: {first_line(exc)} (convert again with "
                             f"`browserdl convert all-formats --models {model_path.parent.parent.name} "
                             "--formats onnx --force`)")
    phases.add("load", ms_since(start))

    (spec,) = session.get_inputs()
    shape = input_shape or spec.shape[1:]  # after the batch dimension (an added model: its own)
    rng = np.random.default_rng(seed)
    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((batch, *shape), dtype=np.float32)
    timing = Phases()
    time_inference(timing, lambda x: session.run(None, {spec.name: x}), one, many, runs)
    out = phases.result()
    out.update(calls={CALL: {"phases": timing.phases, "error": None, "not_applicable": False}},
               threads=threads, cores=os.cpu_count())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--calls", default=CALL, help="run: its only call")
    parser.add_argument("--threads", default="all", help="1 (or any count) or all")
    parser.add_argument("--input-shape", default="", help="one sample's shape, e.g. 3,224,224 "
                        "(default: the model's, when fixed)")
    args = parser.parse_args()
    shape = [int(d) for d in args.input_shape.split(",")] if args.input_shape else None
    emit(run(args.model, args.runs, args.batch, args.threads, input_shape=shape))


if __name__ == "__main__":
    main()
