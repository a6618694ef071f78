"""Summaries of repeated measurements: median, p10/p90 and the coefficient of variation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

UNSTABLE_CV = 0.10  # as pyperf: warn when the spread passes 10 % of the mean


@dataclass(frozen=True)
class Summary:
    median: float
    p10: float
    p90: float
    cv: float
    n: int

    @property
    def unstable(self) -> bool:
        return self.n > 1 and self.cv > UNSTABLE_CV


def summarize(values: Iterable[float]) -> Summary:
    arr = np.asarray(list(values), dtype=float)
    mean = arr.mean()
    p10, median, p90 = np.percentile(arr, [10, 50, 90])
    cv = float(arr.std() / mean) if mean else 0.0
    return Summary(float(median), float(p10), float(p90), cv, len(arr))


def phase_summaries(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
                    ) -> dict[Any, dict[str, tuple[Summary, str]]]:
    """Per group (`key` of a row, e.g. frame.group_key): phase -> (summary, unit), over ok trials.

    A phase with raw samples (steady-state inference) pools every run of every trial;
    the others summarize one value per trial.
    """
    values: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    units: dict[str, str] = {}
    for row in rows:
        if not row["ok"] or not row["phase"]:
            continue
        values[key(row)][row["phase"]] += row["samples"] or [row["value"]]
        units[row["phase"]] = row["unit"]
    return {
        group: {phase: (summarize(v), units[phase]) for phase, v in phases.items()}
        for group, phases in values.items()
    }
