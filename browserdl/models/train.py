"""Training the reference models: model.h5 + meta.json per model in the workspace."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress, TaskID

from browserdl.errors import UserError
from browserdl.models import data
from browserdl.models.zoo import SEED, ModelSpec, count_flops
from browserdl.quiet import import_quietly
from browserdl.workspace import Workspace

BATCH_SIZE = 64  # the paper's batch size, §4.1
LEARNING_RATE = 3e-3


@dataclass
class TrainOptions:
    epochs: int = 1
    force: bool = False
    mnist: Path | None = None
    weights: dict[str, Path] | None = None  # application id -> user weights file


def train_models(
    specs: list[ModelSpec], ws: Workspace, options: TrainOptions, progress: Progress
) -> list[dict[str, Any]]:
    """Train (or, for the Keras applications, build) each model not yet in the workspace."""
    todo = [s for s in specs if options.force or s.id not in ws.trained_models()]
    metas = [_read_meta(ws, s.id) for s in specs if s not in todo]
    if not todo:
        return metas
    import_quietly("tensorflow")
    datasets: dict[str, Any] = {}
    overall = progress.add_task("training", total=len(todo))
    for spec in todo:
        progress.update(overall, description=f"training {spec.id}")
        if spec.family.task not in datasets:
            datasets[spec.family.task] = data.load_task(spec.family.task, ws.cache, options.mnist)
        metas.append(_train_one(spec, ws, datasets[spec.family.task], options, progress))
        progress.advance(overall)
    progress.remove_task(overall)
    return metas


def _read_meta(ws: Workspace, model_id: str) -> dict[str, Any]:
    return json.loads((ws.model_dir(model_id) / "meta.json").read_text())


class _BatchProgress:
    """A Keras callback that advances a rich progress bar once per batch."""

    def __new__(cls, progress: Progress, task: TaskID) -> Any:
        import tf_keras

        class Callback(tf_keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                loss = (logs or {}).get("loss", float("nan"))
                progress.update(task, advance=1, loss=f"loss {loss:.3f}")

        return Callback()


def _train_one(
    spec: ModelSpec, ws: Workspace, ds: Any, options: TrainOptions, progress: Progress
) -> dict[str, Any]:
    import tensorflow as tf
    import tf_keras

    task = spec.family.task
    shape: dict[str, Any] = {}
    if task == "chars":
        shape = {"n_chars": len(ds.charset), "seq_len": ds.x.shape[1]}
    model = spec.build(**shape)
    meta: dict[str, Any] = {"epochs": 0, "batch_size": BATCH_SIZE, "test_accuracy": None}
    started = time.perf_counter()
    if task == "imagenet":
        weights = (options.weights or {}).get(spec.id)
        meta["data_source"] = _load_user_weights(model, spec.id, weights) if weights else (
            f"random weights (seed {SEED}); never trained here")
    else:
        x_train, y_train, x_test, y_test = data.split(task, ds)
        model.compile(optimizer=tf_keras.optimizers.Adam(LEARNING_RATE),
                      loss=spec.family.loss, metrics=["accuracy"])
        steps = -(-len(x_train) // BATCH_SIZE) * options.epochs
        bar = progress.add_task(f"  {spec.id}", total=steps, loss="")
        model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=options.epochs, shuffle=True,
                  verbose=0, callbacks=[_BatchProgress(progress, bar)])
        progress.remove_task(bar)
        _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        meta.update(epochs=options.epochs, test_accuracy=round(float(accuracy), 4),
                    data_source=ds.source, optimizer=f"Adam(learning_rate={LEARNING_RATE})",
                    loss=spec.family.loss,
                    train_samples=len(x_train), test_samples=len(x_test))
        if task == "chars":
            meta["charset"] = ds.charset
    training_s = time.perf_counter() - started

    out = ws.model_dir(spec.id)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "model.h5.partial"
    model.save(partial, save_format="h5", include_optimizer=False)
    partial.replace(out / "model.h5")  # a crash mid-save never leaves a half-written model.h5
    meta = {
        "id": spec.id,
        "family": spec.family.name,
        "task": task,
        "description": spec.description,
        "input_shape": list(model.input_shape[1:]),
        "output_shape": list(model.output_shape[1:]),
        "layers": [
            {"name": layer.name, "class": type(layer).__name__, "params": layer.count_params()}
            for layer in model.layers
        ],
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "total_params": int(model.count_params()),
        "flops": count_flops(model),
        **meta,
        "seed": SEED,
        "training_time_s": round(training_s, 3),
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    tf_keras.backend.clear_session()
    return meta


def _load_user_weights(model: Any, model_id: str, path: Path) -> str:
    try:
        model.load_weights(str(path))
    except (OSError, ValueError) as exc:
        raise UserError(f"--weights {model_id}={path}: cannot load into {model_id} "
                        f"({str(exc).splitlines()[0]}); give a Keras .h5 weights file "
                        f"of tf_keras.applications for 1000 classes") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"user weights {path.name} (sha256 {digest}…)"
