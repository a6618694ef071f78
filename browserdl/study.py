"""`study`: the whole pipeline as one plan — what it trains, converts and measures per preset."""

from __future__ import annotations

from pathlib import Path

from browserdl import pipeline
from browserdl.converter.convert import lookup
from browserdl.loaders.browser_runner import BrowserOptions
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.native import NativeOptions
from browserdl.loaders.native_worker import CALLS
from browserdl.loaders.runtimes import RUNTIMES, encodings
from browserdl.loaders.sweep import SweepSummary
from browserdl.loaders.training import DEFAULT_BATCHES, TrainingOptions, trainable_runtimes
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import ModelSpec
from browserdl.workspace import Workspace

# quick: minutes on 2 cores; paper: the TF.js benchmark page's 50 steady-state runs
STUDY_RUNS = {"quick": 10, "paper": 50}
# training: (trials, batches); each trial already times many batches, and synaptic is slow
STUDY_TRAINING = {"quick": (1, 10)}  # else: --trials, DEFAULT_BATCHES
# encodings compared on one small DNN: (network profiles, compressions); quick: 1 trial each
STUDY_NETWORK = {"quick": (["4g"], ["none", "br"]),
                 "paper": (["wifi", "4g", "3g"], ["none", "gzip", "br"])}
ENCODINGS_BACKENDS = ["cpu", "fallback", "wasm"]  # the backends the encodings are compared on
ENCODINGS = encodings(ENCODINGS_BACKENDS)  # the formats of the runtimes in the study (runtimes.py)
ENCODINGS_MODEL = "dnn-d1-w64"

STAGES = ["train", "convert all-formats", "measure sizes", "measure loading (native)",
          "measure loading (browser)", "measure training", "measure loading (network)",
          "measure accuracy"]


def study(ws: Workspace, preset: str, specs: list[ModelSpec], trials: int,
          libraries: dict[str, Path], mnist: Path | None = None,
          targets: list[TargetSpec] | None = None,
          added: list[str] | None = None) -> tuple[SweepSummary, int]:
    """Train, convert all-formats, measure sizes, loading (native, then in the browser), training,
    the encodings under network profiles and their accuracy, under one progress display.
    `added`: the user's models (`browserdl add`), taken as they are (nothing to train).

    Returns what the sweeps did and how many conversions failed parity."""
    ids = [s.id for s in specs] + list(added or [])
    runs = STUDY_RUNS.get(preset, 50)
    in_browser = [r for r in RUNTIMES if not RUNTIMES[r].native]
    with pipeline.progress_bar() as progress:  # one display: each stage's bar joins it
        overall = progress.add_task(f"study {preset}", total=len(STAGES))

        def stage(done: int) -> None:
            progress.update(overall, completed=done,
                            description=f"study {preset}: {STAGES[min(done, len(STAGES) - 1)]}")

        stage(0)
        pipeline.train(ws, specs, TrainOptions(mnist=mnist))
        stage(1)
        failed = pipeline.convert(ws, ids, lookup(None), verify=True, force=False,
                                  libraries=libraries, show=False)
        stage(2)
        pipeline.sizes(ws)
        stage(3)
        summary = SweepSummary()
        for runtime in (r for r in RUNTIMES if RUNTIMES[r].native):
            summary += pipeline.measure_native(ws, ids, trials, NativeOptions(runs=runs, calls=CALLS),
                                               False, runtime)
        stage(4)
        summary += pipeline.measure_browser(ws, ids, in_browser, None, None, trials,
                                            [BrowserOptions(runs=runs)], False, libraries, targets)
        stage(5)
        training_trials, batches = STUDY_TRAINING.get(preset, (trials, DEFAULT_BATCHES))
        summary += pipeline.measure_training(ws, ids, trainable_runtimes(), None, training_trials,
                                             TrainingOptions(batches=batches), False, libraries,
                                             targets)
        stage(6)
        if ENCODINGS_MODEL in ids:  # the encodings under real network conditions
            networks, compressions = STUDY_NETWORK.get(preset, STUDY_NETWORK["paper"])
            summary += pipeline.measure_browser(
                ws, [ENCODINGS_MODEL], in_browser, ENCODINGS_BACKENDS,
                ENCODINGS, 1 if preset == "quick" else trials,
                [BrowserOptions(runs, "cold", 120, n, c) for n in networks for c in compressions], False,
                libraries, targets)
        if added:  # the user's models: time to first prediction over the study's first profile
            summary += pipeline.measure_browser(
                ws, list(added), in_browser, None, None, 1,
                [BrowserOptions(runs, "cold", 120, STUDY_NETWORK.get(preset, STUDY_NETWORK["paper"])[0][0])],
                False, libraries, targets)
        stage(7)
        scored = [m for m in (ENCODINGS_MODEL, *(added or [])) if m in ids]
        if scored:  # what each encoding keeps of the model's accuracy; the user's, given data
            summary += pipeline.measure_accuracy(ws, scored, None, False, libraries, targets)
        stage(8)
    return summary, failed
