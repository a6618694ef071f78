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

# graph: tf.function(model) on a tensor; xla: the same with jit_compile=True; direct: the eager
# model(x, training=False); predict: Keras' model.predict(x). Timed in this order in one process.
CALLS = ("graph", "xla", "direct", "predict")


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


def set_threads(tf: Any, threads: str) -> None:
    """`1`: one intra-op and one inter-op thread (as the page's JS, unless wasm threads are on);
    `all`: TensorFlow's default, every core. Must run before TensorFlow executes any op."""
    if threads != "all":
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))


def emit(out: dict[str, Any]) -> None:
    """Print the result line and leave at once: the interpreter's (and TensorFlow's slow)
    teardown is not part of any phase."""
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)


def calls(tf: Any, model: Any) -> dict[str, tuple[Callable[[Any], Any], bool]]:
    """Each call -> (the call, returning numpy output as the page reads its result back; whether
    it takes a pre-made tensor rather than the numpy input: graph and xla do, so the conversion
    is not part of what they time)."""
    graph = tf.function(lambda t: model(t, training=False))
    xla = tf.function(lambda t: model(t, training=False), jit_compile=True)
    return {"graph": (lambda t: graph(t).numpy(), True), "xla": (lambda t: xla(t).numpy(), True),
            "direct": (lambda x: model(x, training=False).numpy(), False),
            "predict": (lambda x: model.predict(x, batch_size=len(x), verbose=0), False)}


def plain_calls(tf: Any, function: Callable[[Any], Any]) -> dict[str, tuple[Callable[[Any], Any], bool]]:
    """The calls of a model without Keras (an added SavedModel or TF.js graph): its function
    traced (graph), compiled (xla) and called eagerly (direct); predict is Keras's alone."""
    graph = tf.function(function)
    xla = tf.function(function, jit_compile=True)
    return {"graph": (lambda t: graph(t).numpy(), True), "xla": (lambda t: xla(t).numpy(), True),
            "direct": (lambda x: function(tf.constant(x)).numpy(), False)}


def load_model(tf: Any, tf_keras: Any, path: Path) -> tuple[Any, Callable[[Any], Any] | None]:
    """(a Keras model, None) for model.h5; (None, its function) for a SavedModel folder or a
    TF.js graph model's folder."""
    if (path / "saved_model.pb").is_file():
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
        (name,) = signature.structured_input_signature[1]
        (output,) = signature.structured_outputs
        return None, lambda t, _owner=loaded: signature(**{name: t})[output]  # _owner: the variables
    if (path / "model.json").is_file():
        from browserdl.loaders import graph_native

        return None, graph_native.load(path).on_tensor
    return tf_keras.models.load_model(path, compile=False), None


def run(model_path: Path, runs: int, batch: int, wanted: list[str], threads: str = "all",
        seed: int = 0, input_shape: list[int] | None = None) -> dict[str, Any]:
    """Load once, then time each wanted call in CALLS order (graph first, so its numbers never
    follow another call's); each call's warm-up is its own first call (graph: tracing, xla:
    compiling). Returns the shared phases and, per call, its own."""
    phases = Phases()
    start = time.perf_counter_ns()
    import numpy as np
    import tensorflow as tf
    import tf_keras

    phases.add("tf_import", ms_since(start))
    set_threads(tf, threads)
    phases.versions.update(tensorflow=tf.__version__, tf_keras=tf_keras.__version__,
                           numpy=np.__version__)

    start = time.perf_counter_ns()
    try:
        model, function = load_model(tf, tf_keras, model_path)
    except Exception as exc:  # any reason a file does not load is this trial's failure
        return phases.result(f"cannot load {model_path.name}: {first_line(exc)} (corrupt or truncated? "
                             f"retrain with `browserdl train --models {model_path.parent.name} --force`)")
    phases.add("load", ms_since(start))

    rng = np.random.default_rng(seed)
    shape = input_shape or model.input_shape[1:]
    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((batch, *shape), dtype=np.float32)
    made = calls(tf, model) if model is not None else plain_calls(tf, function)
    per_call: dict[str, dict[str, Any]] = {}
    for name in (c for c in CALLS if c in wanted):
        if name not in made:
            per_call[name] = {"phases": [], "error": f"{name}: Keras's own call, and this model "
                              "has no Keras layers", "not_applicable": True}
            continue
        call, on_tensor = made[name]
        inputs = (tf.constant(one), tf.constant(many)) if on_tensor else (one, many)
        timing = Phases()
        try:
            time_inference(timing, call, *inputs, runs)
        except Exception as exc:  # TensorFlow's own reason is the result
            # xla that does not compile (its first call) is n/a; anything else is a failure
            per_call[name] = {"phases": [], "error": f"{name}: {first_line(exc)}",
                              "not_applicable": name == "xla" and not timing.phases}
            continue
        per_call[name] = {"phases": timing.phases, "error": None, "not_applicable": False}
    out = phases.result()
    out.update(calls=per_call, threads=threads, cores=os.cpu_count())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--calls", default="graph", help=f"comma-separated: {', '.join(CALLS)}")
    parser.add_argument("--threads", default="all", help="1 (or any count) or all")
    parser.add_argument("--input-shape", default="", help="one sample's shape, e.g. 28,28,1 "
                        "(default: the Keras model's)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    shape = [int(d) for d in args.input_shape.split(",")] if args.input_shape else None
    emit(run(args.model, args.runs, args.batch, args.calls.split(","), args.threads,
             input_shape=shape))


if __name__ == "__main__":
    main()
