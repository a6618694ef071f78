"""`report --csv DIR`: every table as CSV (its header and rows, cell for cell), beside the raw trials."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from browserdl.reports.frame import Frame
from browserdl.reports.table import Table
from browserdl.results import export


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower().split(":")[0]).strip("-")[:60] or "table"


def write_table(table: Table, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(table.headers)
        writer.writerows(table.rows)


def write_all(frame: Frame, tables: list[Table], folder: Path) -> list[Path]:
    """trials.csv (every stored row, as `browserdl export`) and one file per table."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "trials.csv"]
    with open(written[0], "w", newline="", encoding="utf-8") as f:
        export.write(frame.rows, f, "csv")
    seen: set[str] = set()
    for table in tables:
        name = slug(table.title)
        while name in seen:
            name += "-2"
        seen.add(name)
        written.append(folder / f"{name}.csv")
        write_table(table, written[-1])
    return written
