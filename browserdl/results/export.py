"""`browserdl export`: the documented interface for pandas users and scripts (CSV or JSON lines)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

FIELDS = ["model", "format", "runtime", "backend", "target", "kind", "setting", "protocol", "phase",
          "trial", "value", "unit", "ok", "error", "env_id", "wall_s", "recorded", "samples"]
FORMATS = ("csv", "jsonl")


def write(rows: Iterable[dict[str, Any]], out: TextIO, fmt: str) -> int:
    """Write every record; returns how many. CSV keeps `samples` as a JSON list in one cell."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "samples": json.dumps(row["samples"])
                             if row["samples"] is not None else ""})
            count += 1
    else:
        for row in rows:
            out.write(json.dumps({k: str(row[k]) if k == "kind" else row[k] for k in FIELDS}) + "\n")
            count += 1
    return count
