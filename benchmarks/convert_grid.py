"""Convert the paper's 12-model §4.1 grid into every format: wall time per format, peak RSS.

Target: every format for the whole grid in under 60 s on 2 cores, TensorFlow's import
excluded (it is paid once, before the clock starts). Parity checks are timed separately.

    .venv/bin/python benchmarks/convert_grid.py [--workspace DIR] [--verify] [--formats a,b]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from browserdl import pipeline
from browserdl.converter.convert import convert, lookup, read_source
from browserdl.loaders.parity import verify
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import PAPER_41, select
from browserdl.quiet import import_quietly
from browserdl.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="reuse a workspace (default: a temporary one)")
    parser.add_argument("--formats", help="comma-separated (default: all)")
    parser.add_argument("--verify", action="store_true", help="also time each parity check")
    args = parser.parse_args()

    ws = Workspace.open(args.workspace or tempfile.mkdtemp(prefix="browserdl-grid-"))
    pipeline.train(ws, select(None, ",".join(PAPER_41)), TrainOptions())
    formats = lookup(args.formats.split(",") if args.formats else None)
    import_quietly("tensorflowjs.converters.converter")  # paid before the clock starts
    sources = {m: read_source(ws, m) for m in PAPER_41}

    table = Table(title=f"Converting the §4.1 grid ({len(PAPER_41)} models) into each format")
    for column in ("format", "converted", "n/a", "bytes", "convert wall", "parity wall"):
        table.add_column(column, justify="left" if column == "format" else "right")
    session = None
    total = 0.0
    for fmt in formats:
        written = refused = size = 0
        started = time.perf_counter()
        outcomes = []
        for source, digest in sources.values():
            outcome = convert(ws, source, fmt, digest, force=True)
            outcomes.append(outcome)
            if outcome.manifest:
                written += 1
                size += outcome.manifest.total_bytes
            else:
                refused += 1
        wall = time.perf_counter() - started
        total += wall
        parity_wall = ""
        if args.verify:
            runtime = RUNTIMES[fmt.runtime]
            if session is None and not runtime.in_node and runtime.name != "native":
                from browserdl.loaders.session import BrowserSession

                session = BrowserSession(ws).__enter__()
            started = time.perf_counter()
            for outcome in outcomes:
                if outcome.manifest:
                    verify(ws, fmt, outcome.folder, session)
            parity_wall = f"{time.perf_counter() - started:.1f} s"
        table.add_row(fmt.name, str(written), str(refused), f"{size / 1e6:.1f} MB",
                      f"{wall:.2f} s", parity_wall)
    if session is not None:
        session.__exit__(None, None, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table.add_row("all formats", "", "", "", f"{total:.1f} s", "", style="bold")
    console = Console()
    console.print(table)
    console.print(f"all formats for the grid: {total:.1f} s (target < 60 s); peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
