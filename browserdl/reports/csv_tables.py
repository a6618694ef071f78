"""`report --csv DIR`: every table as CSV (plain text of its cells), beside the raw trials."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from rich.table import Table
from rich.text import Text

from browserdl.results import export
from browserdl.results.store import Store


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower().split(":")[0]).strip("-")[:60] or "table"


def _plain(cell: object) -> str:
    text = cell if isinstance(cell, Text) else Text.from_markup(str(cell))
    return text.plain.replace("\u200b", "")


def write_table(table: Table, path: Path) -> None:
    columns = table.columns
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([_plain(c.header) for c in columns])
        # rich keeps a column's cells in order; rows are the zip of the columns
        for row in zip(*(c._cells for c in columns), strict=True):
            writer.writerow([_plain(cell) for cell in row])


def write_all(store: Store, tables: list[Table], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "trials.csv"]
    with open(written[0], "w", newline="") as f:
        export.write(store.rows(), f, "csv")
    seen: set[str] = set()
    for table in tables:
        name = slug(str(table.title or "table"))
        while name in seen:
            name += "-2"
        seen.add(name)
        written.append(folder / f"{name}.csv")
        write_table(table, written[-1])
    return written
