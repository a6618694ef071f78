"""The same files on every engine: phase medians per target beside the reference target's
(chromium when measured), the backends that worked where, and the findings whose verdict
differs by engine. Drawn only when the store holds more than one browser target."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from browserdl.reports import findings
from browserdl.reports.frame import Frame, Group, Phases, browser, cold, kind, native
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_value

REFERENCE = "chromium"
# (phase, column): what a page pays, in the order it pays it
ENGINE_PHASES = [("library", "library"), ("download", "download"), ("parse", "parse"),
                 ("build", "build"), ("warmup", "warm-up"), ("inference", "inference")]


def reference_target(frame: Frame) -> str:
    return REFERENCE if REFERENCE in frame.browser_targets else min(frame.browser_targets, default="")


def _comparable(group: Group) -> bool:
    """Cold loopback trials of the plain settings (no warm cache, network or extra threads)."""
    return browser(group) and cold(group) and dict(group.settings).keys() <= {"cache"}


def cross_engine_rows(frame: Frame) -> list[dict[str, Any]]:
    """One row per (model, format, runtime/backend, target) measured on more than one target:
    each phase's median and its ratio to the reference target's."""
    if len(frame.browser_targets) < 2:
        return []
    by_combo: dict[tuple[str, str, str, str], dict[str, tuple[Group, Phases]]] = defaultdict(dict)
    for group, phases in frame.summaries.items():
        if _comparable(group):
            by_combo[(group.model, group.format, group.runtime, group.backend)][group.target] = (
                group, phases)
    ref = reference_target(frame)
    rows = []
    for combo, targets in sorted(by_combo.items()):
        if len(targets) < 2:
            continue
        base = targets.get(ref, (None, {}))[1]
        for target in sorted(targets, key=lambda t: (t != ref, t)):
            group, phases = targets[target]
            row: dict[str, Any] = {"model": combo[0], "format": combo[1], "group": group,
                                   "target": target, "medians": {}, "ratios": {}}
            for phase, _ in ENGINE_PHASES:
                if phase in phases:
                    row["medians"][phase] = phases[phase][0].median
                    if phase in base and base[phase][0].median > 0 and target != ref:
                        row["ratios"][phase] = phases[phase][0].median / base[phase][0].median
            rows.append(row)
    return rows


def cross_engine_table(frame: Frame) -> Table | None:
    rows = cross_engine_rows(frame)
    if not rows:
        return None
    ref = reference_target(frame)
    labels = [label for _, label in ENGINE_PHASES]
    table = Table("Across engines — the same files, phase by phase", columns(
        "model", "runtime/backend", "target", *labels, right=set(labels)), notes=[
        f"Medians over cold loopback trials; (×) = ÷ the same files on {ref}. Every engine gets the "
        "same server, network shaping, harness and pinned wasm threads; timing is inside the page "
        "(timer steps differ: see Targets)."])
    previous = None
    for row in rows:
        combo = (row["model"], row["group"].runtime, row["group"].backend, row["format"])
        if previous is not None and combo[:3] != previous[:3]:
            table.end_section()
        previous = combo
        cells = []
        for phase, _ in ENGINE_PHASES:
            if phase not in row["medians"]:
                cells.append("—")
                continue
            text = fmt_value(row["medians"][phase], "ms")
            if phase in row["ratios"]:
                text += f" ({row['ratios'][phase]:.2g}×)"
            cells.append(text)
        group = row["group"]
        table.add(row["model"], f"{group.runtime}/{frame.backend_label(group)}", row["target"], *cells)
    return table


def table1_targets(frame: Frame) -> Table | None:
    """Table 1's "backends that worked", per target: the engines differ most here."""
    targets = sorted(frame.browser_targets, key=lambda t: (t != REFERENCE, t))
    if len(targets) < 2:
        return None
    worked: dict[tuple[str, str], set[str]] = defaultdict(set)
    tried: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in frame.rows:
        if kind(row) != "load" or native(row["runtime"]):
            continue
        tried[(row["runtime"], row["target"])].add(row["backend"])
        if row["ok"]:
            worked[(row["runtime"], row["target"])].add(row["backend"])
    runtimes = sorted({runtime for runtime, _ in tried})
    table = Table("Table 1 per target — backends that worked", columns("runtime", *targets), notes=[
        "Per engine: the backends whose trials ran with parity; failed = tried there and never "
        "worked (the reasons are in \"Failed trials\"); — = not tried."])
    for runtime in runtimes:
        cells = []
        for target in targets:
            ok, seen = worked[(runtime, target)], tried[(runtime, target)]
            if not seen:
                cells.append("—")
                continue
            failed = sorted(seen - ok)
            cells.append(", ".join(sorted(ok)) + (f" (failed: {', '.join(failed)})" if failed else ""))
        table.add(runtime, *cells)
    return table


def findings_by_target(frame: Frame) -> Table | None:
    """The paper's findings evaluated on each target alone (its trials and the native ones),
    listed where the verdicts differ."""
    targets = sorted(frame.browser_targets, key=lambda t: (t != REFERENCE, t))
    if len(targets) < 2:
        return None
    verdicts: dict[int, dict[str, findings.Finding]] = defaultdict(dict)
    for target in targets:
        rows = [r for r in frame.rows if native(r["runtime"]) or r["target"] == target
                or kind(r) in ("size", "accuracy")]
        for finding in findings.evaluate(replace(frame, rows=rows, older=[])):
            verdicts[finding.number][target] = finding
    table = Table("The findings per target, where the engines disagree", columns(
        "#", "finding", "target", "verdict", "evidence", right={"#"}), notes=[
        "Each finding evaluated on one target's trials (with the native ones); only findings whose "
        "verdict is not the same on every target are listed."])
    for number, by_target in sorted(verdicts.items()):
        if len({f.verdict for f in by_target.values()}) < 2:
            continue
        for target, finding in by_target.items():
            table.add(str(number), finding.name, target, finding.verdict, finding.evidence)
        table.end_section()
    return table
