"""What a model file's encoding costs a user: time to first prediction per encoding, network
profile and compression, with the bytes sent and the accuracy each encoding keeps.

Time to first prediction (TTFP) = library + download + parse + build + warm-up of one cold
trial, median over trials. Bytes sent = the model's files as the browser's resource timing saw
them on the wire (compressed when the server compressed; headers included).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from browserdl.reports.frame import Frame, kind, settings
from browserdl.reports.table import Table, columns
from browserdl.reports.tables import fmt_value, model_order

TTFP_PARTS = ("library", "download", "parse", "build", "warmup")
NETWORK_ORDER = ("none", "wifi", "4g", "3g")


def ttfp(frame: Frame) -> dict[tuple[str, str, str, str, str], dict[str, Any]]:
    """(model, format, runtime/backend, compression, network) -> {"ttfp": [ms per trial],
    "sent": [bytes per trial]} over ok cold browser trials."""
    trials: dict[tuple, dict[str, float]] = defaultdict(dict)
    for row in frame.rows:
        if not row["ok"] or not row["phase"] or kind(row) != "load":
            continue
        fields = settings(row)
        if fields.get("cache") != "cold":
            continue
        key = (row["model"], row["format"], f"{row['runtime']}/{row['backend']}",
               fields.get("compression", "none"), fields.get("network", "none"), row["trial"])
        trials[key][row["phase"]] = row["value"]
    out: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"ttfp": [], "sent": []})
    for (*group, _), phases in trials.items():
        if all(p in phases for p in TTFP_PARTS):
            out[tuple(group)]["ttfp"].append(sum(phases[p] for p in TTFP_PARTS))
            if "transfer_model" in phases:
                out[tuple(group)]["sent"].append(phases["transfer_model"])
    return dict(out)


def _networks(data: dict[tuple, Any]) -> list[str]:
    seen = {k[4] for k in data}
    return [n for n in NETWORK_ORDER if n in seen] + sorted(seen - set(NETWORK_ORDER))


def ttfp_models(data: dict[tuple, Any]) -> list[str]:
    """Models timed under a network profile or compression: the ones the comparison is about."""
    return sorted({k[0] for k in data if k[3] != "none" or k[4] != "none"}, key=model_order)


def _bytes(value: float | None) -> str:
    return "—" if value is None else fmt_value(value, "bytes")


def ttfp_table(frame: Frame) -> Table | None:
    data = ttfp(frame)
    models = ttfp_models(data)
    if not models:
        return None
    networks = _networks(data)
    shown = ["loopback" if n == "none" else n for n in networks]
    table = Table("Time to first prediction per encoding and network", columns(
        "model", "encoding", "runtime/backend", "on disk", "sent", "accuracy", *shown,
        right={"on disk", "sent", "accuracy", *shown}), notes=[
        "TTFP = library + download + parse + build + warm-up, median of cold trials, per network "
        "profile; encoding = the format, with the server's compression after a comma; sent = the "
        "model's bytes on the wire (resource timing); accuracy on the test digits."])
    for model in models:
        varied = {k[1:3] for k in data if k[0] == model and (k[3] != "none" or k[4] != "none")}
        rows = sorted({k[1:4] for k in data if k[0] == model and k[1:3] in varied})
        for fmt, runtime, compression in rows:
            cells = []
            for network in networks:
                values = data.get((model, fmt, runtime, compression, network), {}).get("ttfp")
                cells.append(fmt_value(statistics.median(values), "ms") if values else "—")
            sent = [v for n in networks for v in data.get((model, fmt, runtime, compression, n),
                                                           {}).get("sent", [])]
            acc = frame.accuracy.get((model, fmt), {})
            encoding = fmt if compression == "none" else f"{fmt}, {compression}"
            table.add(model, encoding, runtime, _bytes(frame.size(model, fmt)),
                      _bytes(statistics.median(sent) if sent else None),
                      f"{acc['accuracy']:.2%}" if "accuracy" in acc else "—", *cells)
        table.end_section()
    return table


def accuracy_table(frame: Frame) -> Table | None:
    """Every measured format's accuracy on the test digits beside its size: what a quantized
    encoding's savings cost."""
    accuracy = frame.accuracy
    if not accuracy:
        return None
    table = Table("Accuracy of each encoding on the test digits", columns(
        "model", "format", "size", "accuracy", "Δ vs keras-h5", "agreement", "digits",
        right={"size", "accuracy", "Δ vs keras-h5", "agreement", "digits"}), notes=[
        "Each encoding run by its own library; agreement = the same top-1 class as the Keras "
        "float32 model."])
    targets = {t for (_, _, t) in frame.accuracy_by_target if t != "native"}
    for (model, fmt, target) in sorted(frame.accuracy_by_target,
                                       key=lambda k: (model_order(k[0]), k[1], k[2])):
        acc = frame.accuracy_by_target[(model, fmt, target)]
        base = accuracy.get((model, "keras-h5"), {}).get("accuracy")
        delta = f"{(acc['accuracy'] - base) * 100:+.2f} pt" if base is not None else "—"
        label = f"{fmt} on {target}" if len(targets) > 1 and target != "native" else fmt
        table.add(model, label, _bytes(frame.size(model, fmt)), f"{acc['accuracy']:.2%}", delta,
                  f"{acc.get('agreement', float('nan')):.2%}", str(int(acc.get("n", 0))))
    return table
