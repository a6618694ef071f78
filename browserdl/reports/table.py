"""A report table as plain data: a title, columns, rows of plain-text cells and notes.

Table functions build these; the renderers (terminal, CSV, HTML) only lay them out. No cell
holds markup: a renderer that wants to colour something finds it by pattern (`STYLES`), so the
CSV file, the HTML page and the terminal show the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Align = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    name: str
    align: Align = "left"


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # printed under the table: what its cells mean
    sections: set[int] = field(default_factory=set)  # row indices after which a rule is drawn

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        if not all(isinstance(c, str) for c in cells):
            raise TypeError(f"{self.title}: cells are plain text, got {cells!r}")
        self.rows.append(list(cells))

    def end_section(self) -> None:
        """Draw a rule under the last row added (when there is one)."""
        if self.rows:
            self.sections.add(len(self.rows) - 1)

    @property
    def headers(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> list[str]:
        index = self.headers.index(name)
        return [row[index] for row in self.rows]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        """`console.print(table)` draws it with the terminal renderer."""
        from browserdl.reports.render_terminal import to_rich

        yield to_rich(self, options.max_width)


def columns(*names: str, right: tuple[str, ...] | set[str] = ()) -> list[Column]:
    """Columns by name, left-aligned except those in `right`."""
    return [Column(n, "right" if n in right else "left") for n in names]


# What a renderer may emphasise, found in the plain text: (pattern, style name).
# Style names: dim, warn, good, bad.
STYLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\([^()]*\d[–-][^()]*\)"), "dim"),  # a p10–p90 spread: (1.2–3.4)
    (re.compile(r"(?<=\s)!$"), "warn"),  # unstable: CV > 10 %
    (re.compile(r"^paper\b.*|\(paper [^()]*\)"), "dim"),  # the paper's own numbers
    (re.compile(r"^n/a\b.*|^not verified.*"), "dim"),
    (re.compile(r"^(ok|supports)\b"), "good"),
    (re.compile(r"^(FAILED|contradicts)\b|↑$"), "bad"),
    (re.compile(r"^(lacks data|runtime not installed)\b|^not enough data\b"), "warn"),
    (re.compile(r"↓$"), "good"),
]


def spans(cell: str) -> list[tuple[int, int, str]]:
    """(start, end, style) of every styled stretch of a cell."""
    return [(m.start(), m.end(), style) for pattern, style in STYLES for m in pattern.finditer(cell)
            if m.end() > m.start()]
