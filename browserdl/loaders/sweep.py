"""Running many trials: skip what is stored, record each trial as it ends, never stop on a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress

from browserdl.environment import machine
from browserdl.results.records import TrialKey, TrialResult
from browserdl.results.store import Store

# A runner turns one trial key into its result plus the versions/environment it saw.
Runner = Callable[[TrialKey], tuple[TrialResult, dict[str, Any]]]


@dataclass
class SweepSummary:
    measured: int = 0
    skipped: int = 0
    failed: list[tuple[TrialKey, str]] = field(default_factory=list)
    # the library cannot do this (e.g. a kernel its backend lacks): recorded, not a failure
    not_applicable: list[tuple[TrialKey, str]] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (target, why it could not run)

    def __add__(self, other: SweepSummary) -> SweepSummary:
        return SweepSummary(self.measured + other.measured, self.skipped + other.skipped,
                            self.failed + other.failed, self.not_applicable + other.not_applicable,
                            self.unavailable + other.unavailable)


def run_sweep(
    keys: list[TrialKey], runner: Runner, store: Store, progress: Progress, force: bool = False,
    label: str = "measuring",
) -> SweepSummary:
    summary = SweepSummary()
    todo = [k for k in keys if force or not store.has_ok(k)]
    summary.skipped = len(keys) - len(todo)
    task = progress.add_task(label, total=len(todo))
    for key in todo:
        progress.update(task, description=f"{label} {key.label()}")
        result, seen = runner(key)
        env_id = store.environment_id({**machine(), **seen})
        store.record(key, result, env_id)
        if result.ok:
            summary.measured += 1
        elif result.detail.get("not_applicable"):
            summary.not_applicable.append((key, result.error or "not applicable"))
        else:
            summary.failed.append((key, result.error or "failed"))
        progress.advance(task)
    progress.remove_task(task)
    return summary
