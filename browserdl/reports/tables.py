"""Tables of the models, native timings and failures, read from the Frame only (never from a
runner); and the number formats every table shares."""

from __future__ import annotations

import re

from browserdl.reports.frame import Frame, group_key, loopback, native, native_threads, threads_text
from browserdl.reports.stats import Summary
from browserdl.reports.table import Table, columns

# (phase, column, show p10–p90)
NATIVE_PHASES = [("tf_import", "import", False), ("load", "load", True),
                 ("warmup", "warm-up", True), ("inference", "inference", True),
                 ("batch_inference", "batch", True), ("peak_rss", "peak RSS", False)]
CALLS = {"graph": "tf.function(model) on a tensor", "xla": "the same, jit_compile=True",
         "direct": "eager model(x, training=False)", "predict": "model.predict(x)",
         "run": "InferenceSession.run"}


def model_order(model: str) -> tuple:
    """DNN grid first by depth then width, then CNN, RNN, the rest by name."""
    for rank, pattern in enumerate((r"dnn-d(\d+)-w(\d+)", r"dnn-d(\d+)-w(\d+)-tanh",
                                    r"cnn-l(\d+)-w(\d+)", r"rnn-l(\d+)-w(\d+)")):
        match = re.fullmatch(pattern, model)
        if match:
            return (rank, int(match[1]), int(match[2]), model)
    return (9, 0, 0, model)


def _scale(value: float, unit: str) -> tuple[float, str]:
    """Divisor and display unit that suit `value`."""
    if unit == "bytes":
        for divisor, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if value >= divisor:
                return divisor, suffix
        return 1, "B"
    if unit == "ms" and value >= 1000:
        return 1000, "s"
    return 1, unit


def fmt_number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_value(value: float, unit: str) -> str:
    divisor, suffix = _scale(value, unit)
    return f"{fmt_number(value / divisor)} {suffix}"


def fmt_summary(summary: Summary, unit: str, spread: bool = True) -> str:
    """`median unit (p10–p90)`, the spread in the median's unit; `!` marks CV > 10 %."""
    divisor, suffix = _scale(summary.median, unit)
    text = f"{fmt_number(summary.median / divisor)} {suffix}"
    if spread and summary.n > 1:
        text += f" ({fmt_number(summary.p10 / divisor)}–{fmt_number(summary.p90 / divisor)})"
    if summary.unstable:
        text += " !"
    return text


def models_table(frame: Frame, ids: list[str] | None = None) -> Table:
    table = Table("Reference models", columns("model", "architecture", "trainable params",
                                              "FLOPs / sample", "test accuracy", "trained on",
                                              right={"trainable params", "FLOPs / sample",
                                                     "test accuracy"}))
    for meta in frame.models:
        if ids is not None and meta["id"] not in ids:
            continue
        accuracy = meta.get("test_accuracy")
        params, flops = meta.get("trainable_params"), meta.get("flops")
        table.add(
            meta["id"], meta["description"], "unknown" if params is None else f"{params:,}",
            "unknown" if flops is None else f"{flops / 1e6:,.2f} M",
            "—" if accuracy is None else f"{accuracy:.4f}",
            meta.get("data_source", "").split(":")[0] or ("not trained here" if meta.get(
                "family") == "user" else ""),
        )
    return table


def added_model_table(meta: dict) -> Table:
    """What `add` read from the user's file (meta.json as a table)."""
    table = Table(f"Added model {meta['id']}", columns("field", "value"))
    source = meta["source"]
    structure = (f"{len(meta['layers'])} layers: " + ", ".join(
        dict.fromkeys(layer["class"] for layer in meta["layers"])) if meta["layers"] else
        f"{sum(meta['ops'].values())} ops: " + ", ".join(list(meta["ops"])[:12]))
    flops, params = meta.get("flops"), meta.get("total_params")
    for field, value in (
        ("file", f"{source['path']} (sha256 {source['sha256'][:16]}…)"),
        ("read as", source["how"]),
        ("structure", structure),
        ("parameters", "unknown" if params is None else f"{params:,}"),
        ("FLOPs / sample", "unknown (not countable for this kind)" if flops is None
         else f"{flops / 1e6:,.2f} M"),
        ("input", f"{meta['input_name']} {meta['declared_input_shape']} {meta['input_dtype']}"
                  f" → timed as {meta['input_shape']}"),
        ("output", f"{meta['output_shape']} {meta['output_dtype']}"),
        ("inputs fed", meta["inputs"]),
        ("loss", meta.get("loss") or "none (saved without compile: no training)"),
        ("labelled data", meta.get("data_source") or "none (no accuracy)"),
    ):
        table.add(field, value)
    return table


def native_table(frame: Frame) -> Table | None:
    """Native phase medians (p10–p90) per model; None when nothing native is stored."""
    summaries = {g: s for g, s in frame.groups("load").items() if native(g.runtime)}
    if not summaries:
        return None
    table = Table("Native (CPU): phase medians over cold trials", columns(
        "model", "runtime, call", "trials", *(label for _, label, _ in NATIVE_PHASES),
        right={"trials", *(label for _, label, _ in NATIVE_PHASES)}), notes=[
        "TensorFlow on model.h5, onnxruntime (ort-native) on model.onnx; median (p10–p90) over "
        "cold trials, each a fresh process; inference = one sample, all steady-state runs pooled; "
        "! = CV > 10 %.",
        "import = TensorFlow's or onnxruntime's; batch = 32 inputs unless b says otherwise; call: "
        + "; ".join(f"{k} = {v}" for k, v in CALLS.items()) + "; b = the batch size."])
    for group, phases in sorted(summaries.items()):
        call = (f"{group.runtime} {group.get('call', '?')} b{group.get('batch', '?')}, "
                f"{threads_text(native_threads(group))}")
        trials = phases["load"][0].n if "load" in phases else 0
        if "library" in phases:  # onnxruntime's import
            phases = {**phases, "tf_import": phases["library"]}
        cells = [fmt_summary(*phases[name], spread=spread) if name in phases else "—"
                 for name, _, spread in NATIVE_PHASES]
        table.add(group.model, call, str(trials), *cells)
    return table


def native_calls_table(frame: Frame) -> Table | None:
    """Every native call × thread count per model, so a reader can redo any ratio; the one the
    ratios divide by is marked."""
    summaries = {g: s for g, s in frame.groups("load").items()
                 if native(g.runtime) and "inference" in s}
    not_applicable = {(group_key(r), r["error"]) for r in frame.rows
                      if native(r["runtime"]) and r["detail"].get("not_applicable")}
    if not summaries and not not_applicable:
        return None
    used = {b.group for b in (frame.baseline_for(g) for g in frame.threads if loopback(g))
            if b is not None}
    table = Table("Native calls", columns(
        "model", "runtime", "threads", "call", "warm-up", "inference", "batch", "÷ fastest",
        "ratios", right={"warm-up", "inference", "batch", "÷ fastest"}), notes=[
        "Medians (inference p10–p90) over cold trials; one process per model, thread count and "
        "trial times its calls in this order: " + "; ".join(f"{k} = {v}" for k, v in CALLS.items())
        + ". Warm-up = each call's first call: for graph it includes tracing, for xla compiling.",
        "÷ fastest = inference ÷ the fastest call at the same thread count; ratios = the call a "
        "browser ÷ native ratio divides by (1 thread, or every core for wasm-threaded trials)."])
    fastest: dict[tuple, float] = {}
    for g, s in summaries.items():
        where = (g.model, g.runtime, native_threads(g))
        fastest[where] = min(fastest.get(where, float("inf")), s["inference"][0].median)
    rows = [(g.model, g.runtime, native_threads(g), g.get("call", "?"), g, None) for g in summaries]
    rows += [(g.model, g.runtime, native_threads(g), g.get("call", "?"), g, reason)
             for g, reason in not_applicable if g not in summaries]
    for model, runtime, threads, call, group, reason in sorted(
            rows, key=lambda r: (model_order(r[0]), r[1], r[2], r[3])):
        if reason is not None:
            table.add(model, runtime, threads_text(threads), call, "n/a", reason, "", "", "")
            continue
        phases = summaries[group]
        cells = [fmt_summary(*phases[name], spread=spread) if name in phases else "—"
                 for name, spread in (("warmup", False), ("inference", True), ("batch_inference", False))]
        ratio = phases["inference"][0].median / fastest[(model, runtime, threads)]
        table.add(model, runtime, threads_text(threads), call, *cells, f"{ratio:.2f}×",
                  "✓" if group in used else "")
    return table


def failures_table(frame: Frame) -> Table | None:
    seen: dict[tuple, str] = {}
    for r in frame.rows:
        if not r["ok"] and not r["detail"].get("not_applicable"):
            seen[(group_key(r), r["trial"])] = r["error"] or ""
    if not seen:
        return None
    table = Table("Failed trials (a rerun tries them again)",
                  columns("model", "runtime/backend", "target", "setting", "trial", "reason",
                          right={"trial"}))
    for (group, trial), error in sorted(seen.items()):
        table.add(group.model, f"{group.runtime}/{group.backend}", group.target,
                  group.setting_text, str(trial), error)
    return table


# fingerprint field -> column (browser targets; natively: host and CPU)
TARGET_FIELDS = [("engine", "engine"), ("version", "version"), ("driver", "driver"),
                 ("endpoint", "endpoint"), ("cross_origin_isolated", "isolated"),
                 ("hardware_concurrency", "cores"), ("timer_step_us", "timer µs"),
                 ("renderer", "renderer"), ("host", "host"), ("cpu_model", "CPU")]


def targets_table(frame: Frame) -> Table | None:
    """Where the trials ran: each target's name and fingerprint."""
    used = {r["target"] for r in frame.rows + frame.older}
    shown = {name: info for name, info in frame.targets.items() if name in used}
    if not shown:
        return None
    table = Table("Targets", columns("target", "trials", *(label for _, label in TARGET_FIELDS),
                                     right={"trials", "cores", "timer µs"}),
                  notes=["Every trial belongs to one target: a browser (name and fingerprint: "
                         "engine, version, driver, user agent, endpoint, cross-origin "
                         "isolation, cores it reports, timer step, WebGL renderer) or this "
                         "machine natively (native: TensorFlow, "
                         "onnxruntime, Node runs, file sizes). A sweep on one target never "
                         "reuses another's trials."])
    counts: dict[str, set] = {}
    for r in frame.rows:
        counts.setdefault(r["target"], set()).add((group_key(r), r["trial"]))
    for name, info in sorted(shown.items()):
        cells = [str(info.get(key) or "—") for key, _ in TARGET_FIELDS]
        table.add(name, str(len(counts.get(name, ()))), *cells)
    return table


def older_protocols_table(frame: Frame) -> Table | None:
    """Trials stored under a protocol older than their group's newest: kept, not shown."""
    trials: dict[tuple, set] = {}
    for r in frame.older:
        group = group_key(r)
        trials.setdefault((group.kind, f"{group.runtime}/{group.backend}", group.target,
                           r["protocol"]), set()).add((group, r["trial"]))
    if not trials:
        return None
    table = Table("Older protocols (stored, not shown)",
                  columns("kind", "runtime/backend", "target", "protocol", "trials",
                          right={"trials"}),
                  notes=["These trials were measured by an older harness, adapter or worker "
                         "(another protocol hash); the tables show only each group's newest "
                         "protocol. `browserdl export` still has them."])
    for (kind_, runtime, target, protocol), seen in sorted(trials.items()):
        table.add(kind_, runtime, target, protocol, str(len(seen)))
    return table
