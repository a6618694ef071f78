"""What one report reads from the results store, read once, and the maps its tables share.

`Frame.load(store)` reads every trial-phase row, the models, the conversions and the
environments one time; every table, plot, tree and finding takes the Frame. How a row's kind of
measurement and its settings are told is here alone (`kind`, `settings`), and so is how rows
are grouped (`group_key`): the rest of `reports/` never looks at a setting string.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from browserdl.converter import FORMATS
from browserdl.loaders.runtimes import RUNTIMES
from browserdl.reports.stats import Summary, phase_summaries
from browserdl.results.records import settings_text

GPU_BACKENDS = {"webgl", "webgpu", "gpu"}
# browser phase(s) ↔ the native phase that does the same work (TensorFlow's import is its
# library phase; onnxruntime's worker calls it `library`): (label, browser phases, native phase)
RATIO_PHASES = [("library", ("library",), "tf_import"),
                ("load", ("download", "parse", "build"), "load"),
                ("warm-up", ("warmup",), "warmup"), ("inference", ("inference",), "inference"),
                ("batch", ("batch_inference",), "batch_inference")]
Phases = dict[str, tuple[Summary, str]]  # phase -> (summary over trials, unit)


# --- what a row is ---------------------------------------------------------------------------

def settings(row: dict[str, Any]) -> dict[str, str]:
    """The trial's settings, e.g. {"cache": "cold", "network": "3g"}."""
    return row["settings"]


def kind(row: dict[str, Any]) -> str:
    """The trial's Kind (results.records) as text: load, train, accuracy or size."""
    return str(row["kind"])


class Group(NamedTuple):
    """The rows whose trials are repeats of one measurement."""

    model: str
    format: str
    runtime: str
    backend: str
    kind: str
    settings: tuple[tuple[str, str], ...]  # settings(row) as sorted, hashable pairs
    target: str = ""  # the browser or machine that ran it (a store's unique target label)

    def get(self, name: str, default: str = "") -> str:
        return dict(self.settings).get(name, default)

    @property
    def setting_text(self) -> str:
        return settings_text(self.settings) or self.kind


def group_key(row: dict[str, Any]) -> Group:
    return Group(row["model"], row["format"], row["runtime"], row["backend"], kind(row),
                 tuple(sorted(settings(row).items())), row["target"])


def native(runtime: str) -> bool:
    """Runs in Python on the CPU (TensorFlow, onnxruntime), not in a browser."""
    return runtime in RUNTIMES and RUNTIMES[runtime].native


def baseline(runtime: str) -> str:
    """The native runtime a browser runtime's ratios divide by."""
    return RUNTIMES[runtime].baseline if runtime in RUNTIMES else "native"


def series_format(group: Group) -> str:
    """The format a runtime/backend series must name beside it: "" for the runtime's own format
    on that backend (its first registered one there: tfjs-layers, onnx-webgl on webgl), else the
    format (tfjs-graph, quantized variants), so that two formats on one backend never pool."""
    runtime = RUNTIMES.get(group.runtime)
    if runtime is None or runtime.native or group.format not in FORMATS:
        return ""
    own = next((f for f in runtime.formats if group.backend in FORMATS[f].backends(runtime.backends)),
               group.format)
    return "" if group.format == own else group.format


def native_threads(group: Group) -> str:
    """A native group's thread count: `1`, `all` or a count (before threads were a setting the
    worker ran on TensorFlow's default, every core)."""
    return group.get("threads", "all")


def threads_text(threads: str) -> str:
    return {"1": "1 thread", "all": "all threads"}.get(threads, f"{threads} threads")


def nearest_threads(wanted: str, stored: set[str]) -> str:
    """The stored native thread count to compare with: `wanted`, else every core, else any."""
    return wanted if wanted in stored else ("all" if "all" in stored else min(stored))


def native_label(group: Group) -> str:
    """"native graph, 1 thread": the native trial a ratio divides by, as tables name it."""
    call = group.get("call") or ("train_on_batch" if group.kind == "train" else "")
    return f"{group.runtime} {call}, {threads_text(native_threads(group))}".replace("  ", " ")


class Baseline(NamedTuple):
    """The native trials a browser group's ratios divide by, and what they were."""

    group: Group
    phases: Phases

    @property
    def label(self) -> str:
        return native_label(self.group)


def loopback(group: Group) -> bool:
    """Timed over plain loopback (no network profile, no compression), or native: the trials
    the paper's figures, the ratios and the trees compare."""
    return group.kind == "load" and not {"network", "compression"} & dict(group.settings).keys()


def cold(group: Group) -> bool:
    """A loopback timing from a cold start (every native trial is a fresh process)."""
    return loopback(group) and group.get("cache", "cold") == "cold"


def browser(group: Group) -> bool:
    return group.kind == "load" and not native(group.runtime)


# CPU rasterisers a "GPU" backend may run on: Chromium's SwiftShader, Mesa's llvmpipe (Firefox
# and WebKitGTK under Xvfb)
SOFTWARE_GPUS = ("swiftshader", "llvmpipe", "softpipe")


def software_gpu(renderer: str) -> bool:
    return any(name in renderer.lower() for name in SOFTWARE_GPUS)


def backend_label(backend: str, renderer: str) -> str:
    """The backend, marked when its "GPU" is a software renderer on the CPU."""
    if backend in GPU_BACKENDS and software_gpu(renderer):
        return f"{backend} (software GPU)"
    return backend


def setting_label(group: Group) -> str:
    """", warm cache", ", 3g", ", br" … for what a browser setting adds to a cold loopback trial."""
    words = ["warm cache"] if group.get("cache") == "warm" else []
    words += [group.get(k) for k in ("network", "compression") if group.get(k)]
    return "".join(f", {w}" for w in words)


def newest_protocol(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows of each group's newest protocol, rows of older ones): a report never pools numbers
    that different harnesses produced; the newest is the one recorded last."""
    newest: dict[Group, tuple[int, str]] = {}
    for row in rows:
        group = group_key(row)
        if group not in newest or row["trial_id"] > newest[group][0]:
            newest[group] = (row["trial_id"], row["protocol"])
    current, older = [], []
    for row in rows:
        (current if row["protocol"] == newest[group_key(row)][1] else older).append(row)
    return current, older


# --- the models ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str  # dnn, dnn-tanh, cnn, rnn, app, or "other" for an id zoo doesn't know
    depth: int | None = None  # DNN depth, CNN/RNN layers
    width: int | None = None

    @property
    def grid(self) -> tuple[int, int] | None:
        """(depth or layers, width) for the families the paper sweeps."""
        return None if self.depth is None or self.width is None else (self.depth, self.width)


def model_info(model_id: str, meta: dict[str, Any] | None = None) -> ModelInfo:
    from browserdl.errors import UserError
    from browserdl.models.zoo import parse  # names only: zoo imports TensorFlow lazily

    try:
        spec = parse(model_id)
    except UserError:
        return ModelInfo(model_id, (meta or {}).get("family", "other"))
    fields = spec.fields
    return ModelInfo(model_id, spec.family.name, fields.get("depth", fields.get("layers")),
                     fields.get("width"))


# --- the frame -----------------------------------------------------------------------------------

class Source(Protocol):
    """What a Frame reads: the results store (browserdl.results.store.Store) or a look-alike."""

    def rows(self) -> Any: ...
    def models(self) -> list[dict[str, Any]]: ...
    def conversions(self) -> list[dict[str, Any]]: ...
    def environments(self) -> dict[int, dict[str, Any]]: ...
    def targets(self) -> dict[str, dict[str, Any]]: ...


@dataclass
class Frame:
    rows: list[dict[str, Any]]
    models: list[dict[str, Any]] = field(default_factory=list)  # meta.json of each trained model
    conversions: list[dict[str, Any]] = field(default_factory=list)
    environments: dict[int, dict[str, Any]] = field(default_factory=dict)
    name: str = ""  # the store's file name, for the HTML page
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> fingerprint
    older: list[dict[str, Any]] = field(default_factory=list)  # rows of superseded protocols

    @classmethod
    def load(cls, store: Source) -> Frame:
        path = getattr(store, "path", None)
        current, older = newest_protocol(list(store.rows()))
        return cls(current, store.models(), store.conversions(), store.environments(),
                   Path(path).name if path is not None else "", store.targets(), older)

    # --- shared maps, each computed on first use ---

    @cached_property
    def summaries(self) -> dict[Group, Phases]:
        """Every group's phases over its ok trials (see stats.phase_summaries)."""
        return phase_summaries(self.rows, group_key)

    @cached_property
    def renderers(self) -> dict[Group, str]:
        """The WebGL renderer string each browser group recorded."""
        return {group_key(r): r["detail"]["renderer"] for r in self.rows if r["detail"].get("renderer")}

    @cached_property
    def _runtime_renderers(self) -> dict[tuple[str, str], str]:
        return {(g.runtime, g.backend): text for g, text in self.renderers.items()}

    def renderer(self, group: Group) -> str:
        """The group's renderer, else the one its runtime/backend reported elsewhere."""
        return self.renderers.get(group) or self._runtime_renderers.get((group.runtime, group.backend), "")

    def backend_label(self, group: Group) -> str:
        return backend_label(group.backend, self.renderer(group))

    @cached_property
    def browser_targets(self) -> set[str]:
        return {r["target"] for r in self.rows if not native(r["runtime"])
                and kind(r) in ("load", "train")}

    def runtime_label(self, group: Group, with_setting: bool = True) -> str:
        """"tfjs/webgl (software GPU), warm cache" …: what ran, as the tables name it; with
        " on TARGET" when the store holds more than one browser."""
        where = (f" on {group.target}" if len(self.browser_targets) > 1 and not native(group.runtime)
                 else "")
        return (f"{group.runtime}/{self.backend_label(group)}"
                + (setting_label(group) if with_setting else "") + where)

    def groups(self, kind_: str) -> dict[Group, Phases]:
        return {g: p for g, p in self.summaries.items() if g.kind == kind_}

    @cached_property
    def threads(self) -> dict[Group, int]:
        """The threads each browser group computed on, as its adapter said (1 when it said
        nothing: only wasm threads are more)."""
        out: dict[Group, int] = {}
        for row in self.rows:
            if not native(row["runtime"]):
                group = group_key(row)
                out[group] = max(out.get(group, 1), int(row["detail"].get("threads") or 1))
        return out

    def wanted_threads(self, group: Group) -> str:
        """The native thread count a browser group compares with: 1, unless it ran wasm threads."""
        return "1" if self.threads.get(group, 1) <= 1 else "all"

    @cached_property
    def _native_loads(self) -> dict[tuple[str, str], list[tuple[Group, Phases]]]:
        """(model, native runtime) -> its loopback load groups that timed inference."""
        out: dict[tuple[str, str], list[tuple[Group, Phases]]] = defaultdict(list)
        for group, phases in self.groups("load").items():
            if native(group.runtime) and loopback(group) and "inference" in phases:
                aliased = {**phases, **({"tf_import": phases["library"]} if "library" in phases else {})}
                out[(group.model, group.runtime)].append((group, aliased))
        return out

    def native_reference(self, model: str, runtime: str, threads: str = "1") -> Baseline | None:
        """The fastest call (steady single-sample inference median) of a native runtime on a
        model at `threads`; at the nearest other thread count stored when that one is not."""
        candidates = self._native_loads.get((model, runtime), [])
        if not candidates:
            return None
        chosen = nearest_threads(threads, {native_threads(g) for g, _ in candidates})
        group, phases = min(((g, p) for g, p in candidates if native_threads(g) == chosen),
                            key=lambda c: c[1]["inference"][0].median)
        return Baseline(group, phases)

    def baseline_for(self, group: Group) -> Baseline | None:
        """What a browser group's ratios divide by: its runtime's native baseline (TensorFlow;
        onnxruntime for ort) on the same model, fastest call, at the thread count it used."""
        return self.native_reference(group.model, baseline(group.runtime), self.wanted_threads(group))

    @cached_property
    def native_references(self) -> set[Group]:
        """The native groups the figures draw: each model's reference at 1 thread."""
        picked = (self.native_reference(m, r) for m, r in self._native_loads)
        return {b.group for b in picked if b is not None}

    def _values(self, kind_: str) -> dict[tuple[str, str], dict[str, float]]:
        out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for row in self.rows:
            if row["ok"] and row["phase"] and kind(row) == kind_:
                out[(row["model"], row["format"])][row["phase"]] = row["value"]
        return dict(out)

    @cached_property
    def sizes(self) -> dict[tuple[str, str], dict[str, float]]:
        """(model, format) -> {files, size_raw, size_gzip, size_brotli} from `measure sizes`."""
        return self._values("size")

    def size(self, model: str, fmt: str) -> float | None:
        """The raw bytes of a model's files in one format, when measured."""
        return self.sizes.get((model, fmt), {}).get("size_raw")

    @cached_property
    def accuracy(self) -> dict[tuple[str, str], dict[str, float]]:
        """(model, format) -> {accuracy, agreement, n} from `measure accuracy` (on the reference
        browser where a format ran on several; every target's in `accuracy_by_target`)."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for (model, fmt, _target), values in sorted(self.accuracy_by_target.items(),
                                                   key=lambda kv: kv[0][2] != "chromium"):
            out.setdefault((model, fmt), values)
        return out

    @cached_property
    def accuracy_by_target(self) -> dict[tuple[str, str, str], dict[str, float]]:
        """(model, format, target) -> {accuracy, agreement, n}: a browser-only format's accuracy
        on each engine that ran it (Node and native runs are on target `native`)."""
        out: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
        for row in self.rows:
            if row["ok"] and row["phase"] and kind(row) == "accuracy":
                out[(row["model"], row["format"], row["target"])][row["phase"]] = row["value"]
        return dict(out)

    @cached_property
    def _model_infos(self) -> dict[str, ModelInfo]:
        metas = {m["id"]: m for m in self.models}
        ids = {r["model"] for r in self.rows} | set(metas) | {c["model"] for c in self.conversions}
        return {m: model_info(m, metas.get(m)) for m in ids}

    def model(self, model_id: str) -> ModelInfo:
        return self._model_infos.get(model_id) or model_info(model_id)

    def model_ids(self, family: str | None = None) -> set[str]:
        """Every model with a stored row, meta.json or conversion; of one family when asked."""
        return {m for m, info in self._model_infos.items() if family is None or info.family == family}
