"""What a cold browser trial costs beyond the phases it measures, per local target, and what the
quick sweep costs.

For one small model, on each local engine: the wall time of each cold trial seen from Python
(a fresh context — a Playwright context, a BiDi user context, a new WebDriver session —, page
load, the calls, the CPU and memory reads, closing it) beside the sum of the phases timed inside
the page. Then the wall time of the whole `--preset quick` loading sweep on Chromium (native and
every browser runtime, 3 trials, 10 runs), models trained and converted beforehand.

    .venv/bin/python benchmarks/harness_overhead.py [--trials 7] [--runtime tfjs --backend cpu]
                        [--targets chromium,firefox,webkit] [--skip-quick] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from browserdl import pipeline
from browserdl.converter.convert import lookup
from browserdl.loaders import browser_runner
from browserdl.loaders.browser_runner import BrowserOptions
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.native import NativeOptions
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.session import BrowserSession
from browserdl.loaders.targets import LOCAL_ENGINES
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import select
from browserdl.workspace import Workspace

MODEL = "dnn-d1-w64"
FORMAT_OF = {"tfjs": "tfjs-layers", "convnetjs": "convnetjs", "brainjs": "brainjs",
             "synaptic": "synaptic", "kerasjs": "kerasjs"}


def per_trial(ws: Workspace, runtime: str, backend: str, trials: int, target: str,
              console: Console) -> None:
    options = BrowserOptions(runs=50)
    table = Table(title=f"Cold trials of {MODEL} in {runtime}/{backend} on {target} (50 runs each)")
    for column in ("trial", "wall (Python)", "sum of page phases", "overhead"):
        table.add_column(column, justify="right")
    walls, sums = [], []
    with BrowserSession(ws, TargetSpec(target, target)) as session:
        run = browser_runner.runner(ws, session, options, {})
        combo = (MODEL, FORMAT_OF[runtime], runtime, backend)
        for trial, key in enumerate(browser_runner.keys([combo], trials, options, session.target, {})):
            result, _ = run(key)
            if not result.ok:
                raise SystemExit(f"trial {trial} failed: {result.error}")
            ms = [p for p in result.phases if p.unit == "ms"]
            phase_sum = sum(sum(p.samples) if p.samples else p.value for p in ms)
            wall = result.wall_s * 1000
            walls.append(wall)
            sums.append(phase_sum)
            table.add_row(str(trial), f"{wall:.0f} ms", f"{phase_sum:.0f} ms",
                          f"{wall - phase_sum:.0f} ms")
    wall_med, sum_med = statistics.median(walls), statistics.median(sums)
    table.add_row("median", f"{wall_med:.0f} ms", f"{sum_med:.0f} ms",
                  f"{wall_med - sum_med:.0f} ms", style="bold")
    console.print(table)
    console.print(f"{target} ({session.driver.context_kind} per trial): the page's phases cover "
                  f"{sum_med / wall_med:.1%} of a cold trial's wall time")


def quick_sweep(ws: Workspace, console: Console) -> None:
    specs = select("quick", None)
    ids = [s.id for s in specs]
    pipeline.train(ws, specs, TrainOptions())
    pipeline.convert(ws, ids, lookup(None), verify=False, force=False, libraries={}, show=False)
    started = time.perf_counter()
    native = pipeline.measure_native(ws, ids, 3, NativeOptions(runs=10), force=True)
    native_s = time.perf_counter() - started
    browser = pipeline.measure_browser(ws, ids, [r for r in RUNTIMES if r != "native"], None,
                                       None, 3, [BrowserOptions(runs=10)], True, {})
    total = time.perf_counter() - started
    console.print(f"--preset quick loading sweep: {native.measured + browser.measured} trials "
                  f"({native.measured} native in {native_s:.0f} s, {browser.measured} browser in "
                  f"{total - native_s:.0f} s), {len(native.failed) + len(browser.failed)} failed: "
                  f"{total:.0f} s in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--runtime", default="tfjs", choices=sorted(FORMAT_OF))
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--targets", default=",".join(LOCAL_ENGINES))
    parser.add_argument("--skip-quick", action="store_true")
    parser.add_argument("--workspace", type=Path, help="reuse a workspace (default: a temporary one)")
    args = parser.parse_args()
    ws = Workspace.open(args.workspace or tempfile.mkdtemp(prefix="browserdl-harness-"))
    pipeline.train(ws, select(None, MODEL), TrainOptions())
    pipeline.convert(ws, [MODEL], lookup([FORMAT_OF[args.runtime]]), verify=False, force=False,
                     libraries={}, show=False)
    console = Console()
    for target in args.targets.split(","):
        per_trial(ws, args.runtime, args.backend, args.trials, target, console)
    if not args.skip_quick:
        quick_sweep(ws, console)


if __name__ == "__main__":
    main()
