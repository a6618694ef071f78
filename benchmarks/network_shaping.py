"""The loopback server's network shaping against Chromium's own CDP emulation of the same profile.

For one model and runtime, cold trials of each profile two ways in Chromium (the server shapes,
or CDP's Network.emulateNetworkConditions does with the server as is), then the server's shaping
on every other local engine: the download and library phases' medians, their ratio to CDP's, and
the floor bytes ÷ bandwidth (the model's bytes on the wire at the profile's rate).

    .venv/bin/python benchmarks/network_shaping.py --workspace DIR [--trials 3]
        [--profiles 3g,4g,wifi] [--format webdnn-fallback] [--targets chromium,firefox,webkit]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from browserdl import pipeline
from browserdl.converter.convert import lookup
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.network import PROFILES, NetworkProfile
from browserdl.loaders.parity import reference
from browserdl.loaders.session import BrowserSession
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import select
from browserdl.workspace import Workspace

MODEL = "dnn-d1-w64"
RUNTIME_OF = {"webdnn-fallback": ("webdnn", "fallback"), "tfjs-layers": ("tfjs", "cpu"),
              "brainjs": ("brainjs", "cpu"), "convnetjs": ("convnetjs", "cpu")}


def request(ws: Workspace, session: BrowserSession, fmt: str) -> dict[str, Any]:
    ref = reference(ws, MODEL)
    runtime, backend = RUNTIME_OF[fmt]
    return {"adapter": runtime, "backend": backend,
            "formatUrl": session.url(ws.formats / MODEL / fmt), "inputUrl": session.url(ref.input_path),
            "shape": list(ref.inputs.shape), "runs": 1, "batchRuns": 1}


def load_once(session: BrowserSession, options: dict[str, Any], profile: NetworkProfile,
              cdp: bool) -> dict[str, Any]:
    """One cold load: shaped by the server, or by CDP on the page (the server as is)."""
    context = session.driver.new_context()
    try:
        page = session.open_page(context, 120)
        if cdp:
            cdp_session = context.context.new_cdp_session(page.page)  # type: ignore[attr-defined]
            cdp_session.send("Network.enable")
            cdp_session.send("Network.emulateNetworkConditions", profile.cdp())
        else:
            session.shape(profile)
        try:
            return session.call(page, "measureLoad", options, 120)
        finally:
            session.shape(None)
    finally:
        context.close()


def measure(ws: Workspace, target: str, fmt: str, profile: NetworkProfile, cdp: bool,
            trials: int) -> dict[str, float]:
    with BrowserSession(ws, TargetSpec(target, target)) as session:
        options = request(ws, session, fmt)
        got = [load_once(session, options, profile, cdp) for _ in range(trials)]
    return {"download": statistics.median(g["phases"]["download"] for g in got),
            "library": statistics.median(g["phases"]["library"] for g in got),
            "bytes": got[0]["transfer"]["model"]["transfer"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--profiles", default="3g,4g,wifi")
    parser.add_argument("--format", default="webdnn-fallback", choices=sorted(RUNTIME_OF))
    parser.add_argument("--targets", default="chromium,firefox,webkit")
    args = parser.parse_args()
    ws = Workspace.open(args.workspace)
    pipeline.train(ws, select(None, MODEL), TrainOptions())
    pipeline.convert(ws, [MODEL], lookup([args.format]), verify=False, force=False, libraries={},
                     show=False)
    table = Table(title=f"{MODEL} {args.format}: download and library medians of {args.trials} "
                        "cold trials")
    for column in ("profile", "target", "shaped by", "download", "÷ CDP", "bytes ÷ bandwidth",
                   "library", "÷ CDP"):
        table.add_column(column, justify="right")
    for name in args.profiles.split(","):
        profile = PROFILES[name]
        cdp = measure(ws, "chromium", args.format, profile, True, args.trials)
        floor = cdp["bytes"] / (profile.down_kbps * 1000 / 8) * 1000
        table.add_row(name, "chromium", "CDP", f"{cdp['download']:.0f} ms", "1", f"{floor:.0f} ms",
                      f"{cdp['library']:.0f} ms", "1")
        for target in args.targets.split(","):
            got = measure(ws, target, args.format, profile, False, args.trials)
            table.add_row(name, target, "server", f"{got['download']:.0f} ms",
                          f"{got['download'] / cdp['download']:.2f}", f"{floor:.0f} ms",
                          f"{got['library']:.0f} ms", f"{got['library'] / cdp['library']:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
