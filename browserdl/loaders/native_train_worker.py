"""One native training trial in a fresh Python process: `python -m browserdl.loaders.native_train_worker`.

The page's protocol (js/harness.js trainStart / trainChunk / trainFinish) in TensorFlow: plain SGD
with `train_on_batch`, the probe's loss, one warm-up batch, then the timed batches in windows of at
least `window_ms` with the process's CPU time over each window (every thread: TensorFlow uses
all cores unless `--threads 1`), then the probe's loss again. Prints one JSON line in the shape
the page returns, and how the step ran: `train_on_batch` calls Keras' train function, a
`tf.function` (graph) unless the model runs eagerly; the worker checks and says which.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from browserdl.loaders.native_worker import emit, first_line, ms_since, peak_rss, set_threads

UPDATES = "mini-batch: the mean gradient of the batch, one update (train_on_batch)"


def run(model_path: Path, x_path: Path, y_path: Path, batches: int, batch_size: int, probe: int,
        learning_rate: float, loss: str, window_ms: float, threads: str = "all") -> dict[str, Any]:
    out: dict[str, Any] = {"backend": "cpu", "phases": {}, "objective": loss, "updates": UPDATES}
    start = time.perf_counter_ns()
    import numpy as np
    import tensorflow as tf
    import tf_keras

    out["phases"]["tf_import"] = ms_since(start)
    set_threads(tf, threads)
    out["versions"] = {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                       "numpy": np.__version__}
    start = time.perf_counter_ns()
    model = tf_keras.models.load_model(model_path, compile=False)
    out["phases"]["load"] = ms_since(start)
    model.compile(optimizer=tf_keras.optimizers.SGD(learning_rate), loss=loss)

    samples = (batches + 1) * batch_size
    x = np.fromfile(x_path, dtype="<f4").reshape(samples, *model.input_shape[1:])
    y = np.fromfile(y_path, dtype="<f4").reshape(samples, -1)
    cuts = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, samples, batch_size)]
    evaluate = lambda: float(model.evaluate(x[:probe], y[:probe], batch_size=probe, verbose=0))  # noqa: E731
    out["lossBefore"] = evaluate()
    start = time.perf_counter_ns()
    out["warmupLoss"] = float(model.train_on_batch(*cuts[0]))
    out["phases"]["train_warmup"] = ms_since(start)
    out["train_step"] = train_step(tf, model)

    times: list[float] = []
    losses: list[float] = []
    cpu: list[float] = []
    following = iter(cuts[1:])
    batch = next(following, None)
    while batch is not None:
        window_start, cpu_start = time.perf_counter(), time.process_time()
        while batch is not None:  # at least one batch per window
            start = time.perf_counter_ns()
            losses.append(float(model.train_on_batch(*batch)))
            times.append(ms_since(start))
            batch = next(following, None)
            if (time.perf_counter() - window_start) * 1000 >= window_ms:
                break
        wall = time.perf_counter() - window_start
        cpu.append(100.0 * (time.process_time() - cpu_start) / wall if wall > 0 else 0.0)
    out.update(times=times, losses=losses, cpu_windows=cpu, lossAfter=evaluate())
    out["peak_rss_bytes"] = peak_rss()
    return out


def train_step(tf: Any, model: Any) -> str:
    """How train_on_batch ran its step: compiled into a graph, or eagerly."""
    function = model.train_function
    if model.run_eagerly or not isinstance(function, tf.types.experimental.GenericFunction):
        return "eager: train_on_batch ran Keras' train step op by op"
    jit = " with XLA" if getattr(function, "_jit_compile", False) else ""
    return f"graph: train_on_batch ran Keras' tf.function train step{jit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("x", type=Path)
    parser.add_argument("y", type=Path)
    parser.add_argument("--batches", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--probe", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--loss", required=True)
    parser.add_argument("--window-ms", type=float, required=True)
    parser.add_argument("--threads", default="all", help="1 (or any count) or all")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        out = run(args.model, args.x, args.y, args.batches, args.batch_size, args.probe, args.lr,
                  args.loss, args.window_ms, args.threads)
    except Exception as exc:  # any reason this trial cannot train is its recorded failure
        out = {"error": first_line(exc)}
    emit(out)


if __name__ == "__main__":
    main()
