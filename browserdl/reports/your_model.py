""""Your model in every framework": for each added model (`browserdl add`), one row per format ×
runtime/backend — bytes, time to first prediction, warm-up, inference, batch, browser ÷ native,
parity — the native rows it divides by, and each format that can't express it with the reason."""

from __future__ import annotations

from statistics import median
from typing import Any

from browserdl.reports.format_tables import _parity_cell
from browserdl.reports.frame import Frame, Group, browser, cold, kind, loopback, native, settings
from browserdl.reports.loading_tables import ratios
from browserdl.reports.network_tables import ttfp
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_summary, fmt_value

USE = (("warmup", "warm-up"), ("inference", "inference"), ("batch_inference", "batch"))


def added_models(frame: Frame) -> list[dict[str, Any]]:
    return [m for m in frame.models if m.get("family") == "user"]


def _bytes(sizes: dict[str, float], name: str) -> str:
    return fmt_value(sizes[name], "bytes") if name in sizes else "—"


def _ms(values: list[float]) -> str:
    return fmt_value(median(values), "ms") if values else "—"


def _profile(data: dict[tuple, Any], model: str) -> str | None:
    """The network profile this model's first predictions were timed under (the first seen)."""
    return next((k[4] for k in sorted(data) if k[0] == model and k[4] != "none" and k[3] == "none"),
                None)


def your_model_table(frame: Frame, meta: dict[str, Any]) -> Table | None:
    model = meta["id"]
    data = ttfp(frame)
    network = _profile(data, model)
    labels = ["raw", "gzip", "brotli", "first prediction (loopback)",
              f"first prediction ({network or 'network'})", *(label for _, label in USE), "÷ native",
              "parity"]
    table = Table(f"Your model in every framework — {model}", columns(
        "format", "runtime/backend", *labels, right=set(labels) - {"parity"}), notes=[
        f"{meta['description']}; inputs: {meta['inputs']}. Bytes of every file a loader fetches; "
        "first prediction = library + download + parse + build + warm-up of one cold trial "
        "(median over trials), over loopback and under the network profile; warm-up, inference "
        "(one sample), batch: median over cold loopback trials; ÷ native = inference ÷ the native "
        "runtime's (TensorFlow; onnxruntime for ort); parity = largest |difference| from the "
        "model's own native runtime on these inputs."])
    ratio = {(r["format"], r["runtime"], r["backend"], r["group"].target): r for r in ratios(frame)}
    conversions = {r["format"]: r for r in frame.conversions if r["model"] == model}
    groups = sorted((g for g in frame.summaries if g.model == model and browser(g) and cold(g)
                     and loopback(g)), key=lambda g: (g.format, g.runtime, g.backend, g.target))
    several = len({g.target for g in groups}) > 1
    for group in groups:
        table.add(*_row(frame, group, data, network, ratio, conversions, several))
    measured = {(g.format, g.runtime, g.backend, g.target) for g in groups}
    for (fmt, runtime, backend, _target), reason in sorted(_unmeasured(frame, model, measured).items()):
        sizes = frame.sizes.get((model, fmt), {})
        table.add(fmt, f"{runtime}/{backend}", _bytes(sizes, "size_raw"), _bytes(sizes, "size_gzip"),
                  _bytes(sizes, "size_brotli"), *["—"] * (len(labels) - 4), reason)
    for runtime in ("native", "ort-native"):  # what the ratios divide by: each runtime's fastest call
        reference = frame.native_reference(model, runtime)
        if reference is None:
            continue
        phases, sizes = reference.phases, frame.sizes.get((model, reference.group.format), {})
        table.add(reference.group.format, reference.label, _bytes(sizes, "size_raw"),
                  _bytes(sizes, "size_gzip"), _bytes(sizes, "size_brotli"), "—", "—",
                  *(fmt_summary(*phases[p], spread=False) if p in phases else "—" for p, _ in USE),
                  "1×", "native reference")
    refused = [f"{name} — {row['reason']}" for name, row in sorted(conversions.items())
               if row["status"] == "n/a"]
    if refused:  # in words under the table: a reason per format reads better than a row of dashes
        table.notes.append("Not expressible: " + "; ".join(refused) + ".")
    return table if table.rows else None


def _unmeasured(frame: Frame, model: str, measured: set[tuple]) -> dict[tuple, str]:
    """Browser combinations of `model` with no successful cold loopback trial: why (the latest
    trial's own reason: failed, or n/a)."""
    out: dict[tuple, str] = {}
    for row in frame.rows:
        key = (row["format"], row["runtime"], row["backend"], row["target"])
        if (row["model"] != model or row["ok"] or key in measured or kind(row) != "load"
                or settings(row).get("network", "none") != "none" or frame.model(model) is None
                or native(row["runtime"])):
            continue
        prefix = "n/a" if (row.get("detail") or {}).get("not_applicable") else "failed"
        out[key] = f"{prefix}: {(row['error'] or 'no result')[:140]}"
    return out


def _row(frame: Frame, group: Group, data: dict[tuple, Any], network: str | None,
         ratio: dict[tuple, dict[str, Any]], conversions: dict[str, dict[str, Any]],
         several: bool) -> list[str]:
    phases = frame.summaries[group]
    sizes = frame.sizes.get((group.model, group.format), {})
    rb = f"{group.runtime}/{group.backend}"
    first = data.get((group.model, group.format, rb, "none", "none"), {}).get("ttfp", [])
    shaped = data.get((group.model, group.format, rb, "none", network), {}).get("ttfp", []) if network else []
    found = ratio.get((group.format, group.runtime, group.backend, group.target), {})
    label = frame.runtime_label(group) + (f" on {group.target}" if several else "")
    return [group.format, label, _bytes(sizes, "size_raw"), _bytes(sizes, "size_gzip"),
            _bytes(sizes, "size_brotli"), _ms(first), _ms(shaped),
            *(fmt_summary(*phases[p], spread=False) if p in phases else "—" for p, _ in USE),
            f"{found['inference']:.1f}×" if "inference" in found else "—",
            _parity_cell(conversions[group.format]) if group.format in conversions else "—"]


def your_model_tables(frame: Frame) -> list[Table | None]:
    return [your_model_table(frame, meta) for meta in added_models(frame)]
