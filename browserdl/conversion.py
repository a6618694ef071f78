"""The convert stage: write every (model, format), let the framework judge parity, store the outcome.

The converter writes; the loaders verify (the same adapters that time the model later).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from browserdl.converter import FORMATS
from browserdl.converter.base import Format
from browserdl.converter.convert import Outcome, convert, read_source
from browserdl.converter.sizes import measure
from browserdl.environment import machine
from browserdl.loaders import protocol
from browserdl.loaders.parity import Parity, in_browser, verify
from browserdl.loaders.targets import native_target
from browserdl.results.records import Kind, Phase, TrialKey, TrialResult, settings
from browserdl.results.store import Store
from browserdl.workspace import Workspace


@dataclass
class Converted:
    outcome: Outcome
    parity: Parity | None  # None: not verified (--no-verify) or nothing written


def convert_all(ws: Workspace, models: list[str], formats: list[Format], progress: Progress,
                verify_parity: bool = True, force: bool = False,
                libraries: dict[str, Path] | None = None) -> list[Converted]:
    results: list[Converted] = []
    task = progress.add_task("converting", total=len(models) * len(formats))
    with ExitStack() as stack, Store(ws.store_path) as store:
        env_id = store.environment_id(machine())
        session = None
        for model in models:
            source, digest = read_source(ws, model)
            for fmt in formats:
                progress.update(task, description=f"converting {model} → {fmt.name}")
                outcome = convert(ws, source, fmt, digest, force)
                parity = None
                if outcome.manifest and verify_parity:
                    if session is None and in_browser(fmt):
                        from browserdl.loaders.session import BrowserSession

                        session = stack.enter_context(BrowserSession(ws, libraries=libraries))
                    progress.update(task, description=f"parity {model} in {fmt.runtime}/{fmt.backend}")
                    parity = verify(ws, fmt, outcome.folder, session, libraries)
                store.record_conversion(_row(fmt, outcome, parity), env_id)
                results.append(Converted(outcome, parity))
                progress.advance(task)
    progress.remove_task(task)
    return results


def _row(fmt: Format, outcome: Outcome, parity: Parity | None) -> dict:
    row = {"model": outcome.model, "format": fmt.name, "runtime": fmt.runtime,
           "backend": fmt.backend, "library": fmt.library}
    if outcome.refused is not None:
        return {**row, "status": "n/a", "reason": outcome.refused}
    manifest = outcome.manifest
    assert manifest is not None
    row.update(files=len(manifest.files), bytes=manifest.total_bytes)
    if parity is None:
        return {**row, "status": "unverified"}
    return {**row, "status": parity.status, "reason": parity.message or None,
            "max_diff": parity.max_diff, "argmax_equal": parity.argmax_equal, "n": parity.n}


def measure_sizes(ws: Workspace, progress: Progress) -> int:
    """Sizes of every converted model into the store (raw, gzip, brotli bytes); returns how many."""
    folders = sorted(p.parent for p in ws.formats.glob("*/*/manifest.json"))
    task = progress.add_task("sizes", total=len(folders))
    with Store(ws.store_path) as store:
        env_id = store.environment_id(machine())
        for folder in folders:
            model, fmt_name = folder.parent.name, folder.name
            progress.update(task, description=f"sizes {model} {fmt_name}")
            sizes = measure(folder)
            fmt = FORMATS.get(fmt_name)
            key = TrialKey(model, fmt_name, fmt.runtime if fmt else "?", fmt.backend if fmt else "?",
                           Kind.SIZE, settings(), 0, native_target(), protocol.for_trial(Kind.SIZE, fmt_name))
            store.record(key, TrialResult(True, [
                Phase("files", sizes.files, "files"), Phase("size_raw", sizes.raw, "bytes"),
                Phase("size_gzip", sizes.gzip, "bytes"), Phase("size_brotli", sizes.brotli, "bytes"),
            ]), env_id)
            progress.advance(task)
    progress.remove_task(task)
    return len(folders)
