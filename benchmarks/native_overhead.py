"""How much of a cold native trial do its phases account for?

For one small model, runs cold native trials (a fresh Python process each) and prints the
wall time of each trial, seen from the parent, beside the sum of the phases the worker
measured inside itself. The difference is interpreter start-up, imports outside TensorFlow,
process spawn and JSON hand-back: the price of the fresh-process protocol.

    .venv/bin/python benchmarks/native_overhead.py [--trials 7] [--model dnn-d1-w64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from browserdl import pipeline
from browserdl.loaders import native
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import select
from browserdl.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dnn-d1-w64")
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workspace", type=Path, help="reuse a workspace (default: a temporary one)")
    args = parser.parse_args()

    ws = Workspace.open(args.workspace or tempfile.mkdtemp(prefix="browserdl-bench-"))
    pipeline.train(ws, select(None, args.model), TrainOptions())
    # one call on one thread count: one worker process per trial
    options = native.NativeOptions(runs=args.runs, threads=("1",))
    run = native.runner(ws, options)

    table = Table(title=f"Cold native trials of {args.model} ({args.runs} runs each)")
    for column in ("trial", "wall (parent)", "sum of phases", "of which TF import", "overhead"):
        table.add_column(column, justify="right")
    walls, sums = [], []
    for trial, key in enumerate(native.keys([args.model], args.trials, options)):
        result, _ = run(key)
        if not result.ok:
            raise SystemExit(f"trial {trial} failed: {result.error}")
        ms = {p.name: p for p in result.phases if p.unit == "ms"}
        phase_sum = sum(sum(p.samples) if p.samples else p.value for p in ms.values())
        wall = result.wall_s * 1000
        walls.append(wall)
        sums.append(phase_sum)
        table.add_row(str(trial), f"{wall:.0f} ms", f"{phase_sum:.0f} ms",
                      f"{ms['tf_import'].value:.0f} ms", f"{wall - phase_sum:.0f} ms")
    wall_med, sum_med = statistics.median(walls), statistics.median(sums)
    table.add_row("median", f"{wall_med:.0f} ms", f"{sum_med:.0f} ms", "",
                  f"{wall_med - sum_med:.0f} ms", style="bold")
    console = Console()
    console.print(table)
    console.print(f"phases cover {sum_med / wall_med:.1%} of a cold trial's wall time "
                  f"(median wall / median phase sum = {wall_med / sum_med:.2f}×)")


if __name__ == "__main__":
    main()
