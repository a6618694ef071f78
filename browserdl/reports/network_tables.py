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

from rich.table import Table

from browserdl.reports.tables import fmt_value, model_order
from browserdl.results.store import Store

TTFP_PARTS = ("library", "download", "parse", "build", "warmup")
NETWORK_ORDER = ("none", "wifi", "4g", "3g")
ACCURACY_SETTING = "accuracy"


def _fields(setting: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in setting.split(",") if "=" in part)


def ttfp(store: Store) -> dict[tuple[str, str, str, str, str], dict[str, Any]]:
    """(model, format, runtime/backend, compression, network) -> {"ttfp": [ms per trial],
    "sent": [bytes per trial]} over ok cold trials."""
    trials: dict[tuple, dict[str, float]] = defaultdict(dict)
    for row in store.rows():
        fields = _fields(row["setting"])
        if not row["ok"] or not row["phase"] or fields.get("cache") != "cold":
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


def accuracies(store: Store) -> dict[tuple[str, str], dict[str, float]]:
    """(model, format) -> {"accuracy", "agreement", "n"} from `measure accuracy`."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in store.rows():
        if row["setting"] == ACCURACY_SETTING and row["ok"] and row["phase"]:
            out[(row["model"], row["format"])][row["phase"]] = row["value"]
    return dict(out)


def _networks(data: dict[tuple, Any]) -> list[str]:
    seen = {k[4] for k in data}
    return [n for n in NETWORK_ORDER if n in seen] + sorted(seen - set(NETWORK_ORDER))


def ttfp_models(data: dict[tuple, Any]) -> list[str]:
    """Models timed under a network profile or compression: the ones the comparison is about."""
    return sorted({k[0] for k in data if k[3] != "none" or k[4] != "none"}, key=model_order)


def ttfp_table(store: Store) -> Table | None:
    data = ttfp(store)
    models = ttfp_models(data)
    if not models:
        return None
    sizes = {(r["model"], r["format"]): r["value"] for r in store.rows()
             if r["setting"] == "sizes" and r["ok"] and r["phase"] == "size_raw"}
    accuracy = accuracies(store)
    networks = _networks(data)
    table = Table(title="Time to first prediction (library + download + parse + build + warm-up, "
                  "median of cold trials) per encoding, compression and network profile; sent = "
                  "the model's bytes on the wire (resource timing); accuracy on the test digits",
                  title_justify="left")
    for column in ("model", "format", "runtime/backend", "compression", "on disk", "sent", "accuracy"):
        table.add_column(column, justify="right" if column in ("on disk", "sent", "accuracy") else "left")
    for network in networks:
        table.add_column("loopback" if network == "none" else network, justify="right")
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
            acc = accuracy.get((model, fmt), {})
            table.add_row(model, fmt, runtime, compression,
                          fmt_value(sizes[(model, fmt)], "bytes") if (model, fmt) in sizes else "—",
                          fmt_value(statistics.median(sent), "bytes") if sent else "—",
                          f"{acc['accuracy']:.2%}" if "accuracy" in acc else "—", *cells)
        table.add_section()
    return table


def accuracy_table(store: Store) -> Table | None:
    """Every measured format's accuracy on the test digits beside its size: what a quantized
    encoding's savings cost."""
    accuracy = accuracies(store)
    if not accuracy:
        return None
    sizes = {(r["model"], r["format"]): r["value"] for r in store.rows()
             if r["setting"] == "sizes" and r["ok"] and r["phase"] == "size_raw"}
    table = Table(title="Accuracy of each encoding on the test digits (run by its own library); "
                  "agreement = same top-1 class as the Keras float32 model", title_justify="left")
    for column in ("model", "format", "size", "accuracy", "Δ vs keras-h5", "agreement", "digits"):
        table.add_column(column, justify="left" if column in ("model", "format") else "right")
    for (model, fmt) in sorted(accuracy, key=lambda k: (model_order(k[0]), k[1])):
        acc = accuracy[(model, fmt)]
        base = accuracy.get((model, "keras-h5"), {}).get("accuracy")
        delta = f"{(acc['accuracy'] - base) * 100:+.2f} pt" if base is not None else "—"
        table.add_row(model, fmt, fmt_value(sizes[(model, fmt)], "bytes") if (model, fmt) in sizes else "—",
                      f"{acc['accuracy']:.2%}", delta, f"{acc.get('agreement', float('nan')):.2%}",
                      str(int(acc.get("n", 0))))
    return table
