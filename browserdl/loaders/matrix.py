"""One sweep over many targets: local engines one after another (they share this machine's CPU),
remote ones concurrently (each its own machine, one trial at a time), every trial keyed by its
target; a target that cannot start is one line, and the others go on."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from browserdl.errors import UserError
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.session import BrowserSession
from browserdl.loaders.sweep import SweepSummary
from browserdl.results.store import Store
from browserdl.workspace import Workspace

# What a sweep does on one target's open session, with a store of its own thread.
Work = Callable[[BrowserSession, Store], SweepSummary]


def on_targets(ws: Workspace, specs: list[TargetSpec], work: Work,
               libraries: dict[str, Path] | None = None) -> SweepSummary:
    """`work` on every target."""
    local = [s for s in specs if s.local]
    remote = [s for s in specs if not s.local]
    summary = SweepSummary()
    with ThreadPoolExecutor(max_workers=max(1, len(remote)), thread_name_prefix="target") as pool:
        futures = [pool.submit(_one, ws, spec, work, libraries) for spec in remote]
        for spec in local:
            summary += _one(ws, spec, work, libraries)
        for future in futures:
            summary += future.result()
    return summary


def _one(ws: Workspace, spec: TargetSpec, work: Work, libraries: dict[str, Path] | None
         ) -> SweepSummary:
    try:
        with Store(ws.store_path) as store, BrowserSession(ws, spec, libraries) as session:
            _ = session.target  # the fingerprint first: a page that cannot open is one line
            return work(session, store)
    except UserError as exc:
        return SweepSummary(unavailable=[(spec.name, str(exc))])
    except RuntimeError as exc:  # the browser went away for good mid-sweep
        return SweepSummary(unavailable=[(spec.name, f"target {spec.name}: {exc}")])
