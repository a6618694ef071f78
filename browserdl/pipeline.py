"""The stages the commands and `study` share: train → (convert) → measure → report."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from browserdl import conversion
from browserdl.converter.base import Format
from browserdl.errors import UserError
from browserdl.loaders import accuracy, browser_runner, native, training
from browserdl.loaders.browser_runner import BrowserOptions
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.network import NONE as NO_NETWORK
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.sweep import SweepSummary, run_sweep
from browserdl.loaders.targets import LOCAL_CHROMIUM, native_target
from browserdl.models import user
from browserdl.models.train import TrainOptions, train_models
from browserdl.models.user import AddOptions
from browserdl.models.zoo import ModelSpec
from browserdl.reports import (
    engine_tables,
    format_tables,
    loading_tables,
    network_tables,
    render_terminal,
    report,
    tables,
    training_tables,
)
from browserdl.reports.frame import Frame
from browserdl.reports.table import Table
from browserdl.results import export as exporter
from browserdl.results.store import Store
from browserdl.workspace import Workspace

if TYPE_CHECKING:
    from browserdl.loaders.session import BrowserSession

# Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns; give them room.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True)


class _Progress(Progress):
    """Every task gets an empty `loss` field unless it sets one (a column reads it)."""

    def add_task(self, description: str, *args, **fields) -> TaskID:  # type: ignore[override]
        fields.setdefault("loss", "")
        return super().add_task(description, *args, **fields)


_active: list[Progress] = []  # the display a stage joins when `study` already shows one


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress display; nested calls share the outer one, so `study` is one display."""
    if _active:
        yield _active[-1]
        return
    with _Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as progress:
        _active.append(progress)
        try:
            yield progress
        finally:
            _active.pop()


def train(ws: Workspace, specs: list[ModelSpec], options: TrainOptions) -> None:
    with progress_bar() as progress, Store(ws.store_path) as store:
        for meta in train_models(specs, ws, options, progress):
            store.record_model(meta)


def add(ws: Workspace, path: Path, options: AddOptions) -> None:
    """Register the user's model, record it, and show what was read and what to run next."""
    with err_console.status(f"reading {path}"):
        meta = user.add(ws, path, options)
    with Store(ws.store_path) as store:
        store.record_model(meta)
    render_terminal.print_tables(console, [tables.added_model_table(meta)])
    err_console.print(f"added {meta['id']}: next `browserdl convert all-formats --models {meta['id']}`, "
                      f"then `browserdl measure loading --models {meta['id']}` (or `browserdl study "
                      f"--models {meta['id']}`)", highlight=False, soft_wrap=True)


def attach_data(ws: Workspace, models: list[str], data: str) -> None:
    """Labelled data for each of the added `models` (recorded in the store too)."""
    with Store(ws.store_path) as store:
        for model in models:
            store.record_model(user.attach_data(ws, model, data))


def convert(ws: Workspace, models: list[str], formats: list[Format], verify: bool, force: bool,
            libraries: dict[str, Path], show: bool = True) -> int:
    """Convert and verify; returns how many failed parity (the caller decides the exit code)."""
    with progress_bar() as progress:
        results = conversion.convert_all(ws, models, formats, progress, verify, force, libraries)
    if show:
        render_terminal.print_tables(console, [format_tables.conversions_table(_frame(ws), models)])
    failed = [r for r in results if r.parity is not None and r.parity.status == "failed"]
    refused = sum(r.outcome.refused is not None for r in results)
    err_console.print(f"{len(results) - refused} written ({sum(r.outcome.reused for r in results)} "
                      f"reused), {refused} not expressible, {len(failed)} failed parity")
    for r in failed:
        err_console.print(f"[red]parity failed[/] {r.outcome.model} {r.outcome.format}: "
                          f"{r.parity.message} (--force converts again)", highlight=False, soft_wrap=True)
    return len(failed)


def sizes(ws: Workspace) -> None:
    if not any(ws.formats.glob("*/*/manifest.json")):
        raise UserError(f"nothing converted in {ws.formats}; run `browserdl convert all-formats`")
    with progress_bar() as progress:
        conversion.measure_sizes(ws, progress)


def trained_selection(ws: Workspace, pattern: str | None) -> list[str]:
    """The trained models a measurement works on: all of them, or those matching the globs."""
    trained = ws.trained_models()
    if not trained:
        raise UserError(f"no trained models in {ws.models}; run `browserdl train` or "
                        "`browserdl add PATH` first")
    if not pattern:
        return trained
    chosen: list[str] = []
    for part in (p.strip() for p in pattern.split(",") if p.strip()):
        hits = fnmatch.filter(trained, part)
        if not hits:
            hint = (f"train it with `browserdl train --models {part}`"
                    if not any(c in part for c in "*?[") else f"trained: {', '.join(trained)}")
            raise UserError(f"no trained model matches '{part}' in {ws.models}; {hint}")
        chosen += hits
    return list(dict.fromkeys(chosen))


def measure_native(ws: Workspace, models: list[str], trials: int, options: native.NativeOptions,
                   force: bool, runtime: str = "native") -> SweepSummary:
    """Cold native trials: TensorFlow on model.h5, or onnxruntime (`ort-native`) on the models
    converted to onnx."""
    formats = {m: native.model_format(ws, m, runtime) for m in models}
    ready = [m for m, fmt in formats.items() if fmt and (
        fmt != native.worker_format(runtime) or fmt == "keras-h5"
        or (ws.formats / m / fmt / "manifest.json").is_file())]
    for model in sorted(set(models) - set(ready)):
        why = (f"no {formats[model]} file" if formats[model] else
               "an added ONNX model: TensorFlow does not run ONNX (ort-native does)")
        err_console.print(f"[dim]not timed: {model} {runtime}: {why}[/]", highlight=False)
    own = {m: formats[m] for m in ready}
    with progress_bar() as progress, Store(ws.store_path) as store:
        return run_sweep(native.keys(ready, trials, options, runtime, own), native.runner(ws, options),
                         store, progress, force=force, label=runtime)


def measure_loading(ws: Workspace, models: list[str], runtimes: list[str], backends: list[str] | None,
                    formats: list[str] | None, trials: int, native_options: native.NativeOptions,
                    browser_options: list[BrowserOptions], force: bool, libraries: dict[str, Path],
                    targets: list[TargetSpec] | None = None) -> SweepSummary:
    """Every native runtime asked for, then the browser ones once per options on every target."""
    summary = SweepSummary()
    for runtime in (r for r in runtimes if RUNTIMES[r].native):
        summary += measure_native(ws, models, trials, native_options, force, runtime)
    in_browser = [r for r in runtimes if not RUNTIMES[r].native]
    if in_browser:
        summary += measure_browser(ws, models, in_browser, backends, formats, trials, browser_options,
                                   force, libraries, targets)
    return summary


def measure_browser(ws: Workspace, models: list[str], runtimes: list[str], backends: list[str] | None,
                    formats: list[str] | None, trials: int, options: list[BrowserOptions], force: bool,
                    libraries: dict[str, Path], targets: list[TargetSpec] | None = None) -> SweepSummary:
    """Time the plan once per options (cache, network profile, compression) on every target."""
    combos, skipped = browser_runner.plan(ws, models, runtimes, backends, formats, libraries)
    for reason in skipped:
        err_console.print(f"[dim]not timed: {reason}[/]", highlight=False, soft_wrap=True)
    if not combos:
        err_console.print("nothing to time in the browser: no converted model for these runtimes "
                          "(run `browserdl convert all-formats`)")
        return SweepSummary()
    from browserdl.loaders.matrix import on_targets

    def work(session: BrowserSession, store: Store) -> SweepSummary:
        summary = SweepSummary()
        for option in options:  # keys name the target, so another browser never skips these
            keys = browser_runner.keys(combos, trials, option, session.target, libraries)
            summary += run_sweep(keys, browser_runner.runner(ws, session, option, libraries), store,
                                 progress, force=force, label=f"{session.spec.name}")
        return summary

    with progress_bar() as progress:
        return on_targets(ws, targets or [LOCAL_CHROMIUM], work, libraries)


def measure_training(ws: Workspace, models: list[str], runtimes: list[str], backends: list[str] | None,
                     trials: int, options: training.TrainingOptions, force: bool,
                     libraries: dict[str, Path], targets: list[TargetSpec] | None = None) -> SweepSummary:
    """Train natively and in the browser on every target; what cannot train is listed with its
    reason."""
    with Store(ws.store_path) as store:
        combos, not_applicable = training.plan(ws, store, models, runtimes, backends, libraries)
    for reason in not_applicable:
        err_console.print(f"[dim]not applicable: {reason}[/]", highlight=False, soft_wrap=True)
    native_combos = [c for c in combos if RUNTIMES[c[2]].native]
    browser_combos = [c for c in combos if not RUNTIMES[c[2]].native]
    summary = SweepSummary()
    with progress_bar() as progress:
        if native_combos:
            with Store(ws.store_path) as store:
                keys = training.keys(native_combos, trials, options, native_target(), libraries)
                summary += run_sweep(keys, training.native_runner(ws, options), store, progress,
                                     force=force, label="training natively")
        if browser_combos:
            from browserdl.loaders.matrix import on_targets

            def work(session: BrowserSession, store: Store) -> SweepSummary:
                keys = training.keys(browser_combos, trials, options, session.target, libraries)
                return run_sweep(keys, training.browser_runner(ws, session, options, libraries),
                                 store, progress, force=force, label=f"training on {session.spec.name}")

            summary += on_targets(ws, targets or [LOCAL_CHROMIUM], work, libraries)
    return summary


def measure_accuracy(ws: Workspace, models: list[str], formats: list[str] | None, force: bool,
                     libraries: dict[str, Path], targets: list[TargetSpec] | None = None) -> SweepSummary:
    """Every converted model's accuracy on the test digits, run by its own library (in Node or
    natively once; the browser formats on every target)."""
    combos, skipped = accuracy.plan(ws, models, formats, libraries)
    for reason in skipped:
        err_console.print(f"[dim]no accuracy: {reason}[/]", highlight=False, soft_wrap=True)
    if not combos:
        return SweepSummary()
    in_browser = accuracy.browser_combos(combos)
    elsewhere = [c for c in combos if c not in in_browser]
    summary = SweepSummary()
    with progress_bar() as progress:
        if elsewhere:
            with Store(ws.store_path) as store:
                summary += run_sweep(accuracy.keys(elsewhere, None, libraries),
                                     accuracy.runner(ws, None, libraries), store, progress,
                                     force=force, label="accuracy")
        if in_browser:
            from browserdl.loaders.matrix import on_targets

            def work(session: BrowserSession, store: Store) -> SweepSummary:
                return run_sweep(accuracy.keys(in_browser, session.target, libraries),
                                 accuracy.runner(ws, session, libraries), store, progress,
                                 force=force, label=f"accuracy on {session.spec.name}")

            summary += on_targets(ws, targets or [LOCAL_CHROMIUM], work, libraries)
    return summary


def finish(summary: SweepSummary, failed_before: int = 0) -> None:
    """Say what the sweep did; one line per failed trial; exit 1 when anything failed."""
    err_console.print(f"{summary.measured} trials measured, {summary.skipped} already stored, "
                      f"{len(summary.failed)} failed, {len(summary.not_applicable)} not applicable")
    for _, reason in summary.unavailable:
        err_console.print(f"[red]not measured[/] {reason}", highlight=False, soft_wrap=True)
    for key, reason in summary.not_applicable:
        err_console.print(f"[dim]not applicable {key.label()}: {reason}[/]", highlight=False,
                          soft_wrap=True)
    for key, error in summary.failed:
        err_console.print(f"[red]failed[/] {key.label()}: {error}", highlight=False, soft_wrap=True)
    if summary.failed or summary.unavailable or failed_before:
        raise SystemExit(1)


POINTER = "all tables, plots and findings: `browserdl report`"


def _frame(ws: Workspace) -> Frame:
    """The store read once, for every table a command prints."""
    with Store(ws.store_path) as store:
        return Frame.load(store)


def print_tables(ws: Workspace, make: Callable[[Frame], list[Table | None]]) -> None:
    """What a `measure` command measured: its tables (those with data), then where the rest is."""
    render_terminal.print_tables(console, make(_frame(ws)))
    console.print(POINTER, highlight=False)


def print_loading(ws: Workspace, runtimes: list[str], browser_options: list[BrowserOptions]) -> None:
    """Native runtimes: the native table; browser ones: the browser table, the browser ÷ native
    ratios when timed over plain loopback, time to first prediction under a network or compression."""
    makers: list[Callable[[Frame], Table | None]] = []
    if any(RUNTIMES[r].native for r in runtimes):
        makers += [tables.native_table, tables.native_calls_table]
    if not all(RUNTIMES[r].native for r in runtimes):
        makers += [loading_tables.browser_table, engine_tables.cross_engine_table]
        shaped = [o.network != NO_NETWORK or o.compression != "none" for o in browser_options]
        if not all(shaped):
            makers.append(loading_tables.ratio_table)
        if any(shaped):
            makers.append(network_tables.ttfp_table)
    print_tables(ws, lambda frame: [make(frame) for make in makers])


def print_training(ws: Workspace) -> None:
    print_tables(ws, training_tables.all_training_tables)


def print_accuracy(ws: Workspace) -> None:
    print_tables(ws, lambda frame: [network_tables.accuracy_table(frame)])


def print_sizes(ws: Workspace) -> None:
    print_tables(ws, lambda frame: [format_tables.table3(frame), format_tables.encoding_ratios(frame)])


def print_models(ws: Workspace, ids: list[str]) -> None:
    render_terminal.print_tables(console, [tables.models_table(_frame(ws), ids)])


def print_report(ws: Workspace, csv_dir: Path | None = None, summary: bool = False) -> None:
    """The tables (all, or the `summary` ones `study` ends with), and the raw trials + tables
    as CSV when asked."""
    if not ws.store_path.is_file():
        raise UserError(f"no results in {ws.root}; run `browserdl study` or "
                        "`browserdl train` and `browserdl measure loading` first")
    with Store(ws.store_path) as store:
        if not store.models() and not store.trial_count():
            raise UserError(f"the results store {ws.store_path} is empty; run `browserdl study`")
        frame = Frame.load(store)
    chosen = report.summary_tables(frame) if summary else report.all_tables(frame)
    render_terminal.print_tables(console, chosen)
    if csv_dir is not None:
        written = report.write_csv(frame, csv_dir, None if summary else chosen)
        err_console.print(f"wrote {len(written)} CSV files to {csv_dir}")


def write_html(ws: Workspace) -> Path:
    """The HTML report and its plots into workspace/report/; returns index.html's path."""
    return report.write_html(_frame(ws), ws.report)


def export(ws: Workspace, fmt: str, output: str | None) -> tuple[int, Path | None]:
    """Every stored trial-phase as one record (`fmt`: one of exporter.FORMATS) into `output`
    (- for stdout; default workspace/report/results.<fmt>); returns how many and the file written
    (None: stdout)."""
    if not ws.store_path.is_file():
        raise UserError(f"no results store in {ws.root}; measure something first")
    path = None if output == "-" else Path(output or ws.report / f"results.{fmt}")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    with Store(ws.store_path) as store, (
        open(path, "w", newline="") if path else nullcontext(sys.stdout)
    ) as out:
        return exporter.write(store.rows(), out, fmt), path
