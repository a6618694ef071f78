"""Tables in the terminal (rich): every cell folds rather than being cut, so a table fits any
console width without an ellipsis; notes go under the table."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from browserdl.reports.table import Table, spans

_STYLE = {"dim": "dim", "warn": "yellow", "good": "green", "bad": "red"}


def styled(cell: str) -> Text:
    """A plain cell with the renderer's emphasis (spreads dim, "!" yellow …), never markup."""
    text = Text(cell)
    for start, end, style in spans(cell):
        text.stylize(_STYLE[style], start, end)
    return text


def _widths(table: Table, width: int) -> list[int] | None:
    """Content width per column so the table fits `width`, every column at least as wide as its
    longest word (words wrap whole, never fold); the room left goes to the columns that want it
    fairly. None when the table fits as it is, or when even the words don't fit."""
    texts = [[column.name, *(row[i] for row in table.rows)] for i, column in enumerate(table.columns)]
    wanted = [max(len(line) for text in col for line in [*text.splitlines(), ""]) for col in texts]
    words = [max(len(word) for text in col for word in [*text.split(), ""]) for col in texts]
    room = width - (3 * len(texts) + 1)  # borders and one space of padding each side
    if sum(wanted) <= room or sum(words) > room:
        return None
    widths, spare = list(words), room - sum(words)
    # share the spare room fairly: a column that wants little gets all of it, the rest split
    # what is left (so short numbers stay on one line and long prose wraps)
    wanting = sorted(range(len(widths)), key=lambda i: wanted[i] - words[i])
    for k, i in enumerate(wanting):
        give = min(wanted[i] - words[i], spare // (len(wanting) - k))
        widths[i] += give
        spare -= give
    return widths


def to_rich(table: Table, width: int | None = None) -> RichTable:
    """A rich table of the data; given the console's `width`, laid out to fit it (see _widths)."""
    widths = _widths(table, width) if width else None
    out = RichTable(title=Text(table.title, style="bold"), title_justify="left",
                    caption=Text("\n".join(table.notes)) if table.notes else None,
                    caption_justify="left", box=box.SQUARE_DOUBLE_HEAD if table.rows else box.SIMPLE)
    for i, column in enumerate(table.columns):
        out.add_column(Text(column.name), justify=column.align, overflow="fold",
                       width=widths[i] if widths else None)
    for i, row in enumerate(table.rows):
        out.add_row(*(styled(c) for c in row), end_section=i in table.sections)
    return out


def print_tables(console: Console, tables: Iterable[Table | None]) -> None:
    """Print each table (None, for a table without data, is skipped)."""
    for table in tables:
        if table is not None:
            console.print(to_rich(table, console.width))
