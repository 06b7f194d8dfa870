"""The one table layout of the CLI (the convention is in :mod:`polyarch.cli.render`)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from polyarch.cli.render.output import terminal_width

__all__ = ["Cell", "Column", "print_table", "table_lines"]

#: Spaces between two columns; the indent of a row's continuation lines.
_GAP = 2
_INDENT = 4
#: A wrapping column narrower than this is not worth it: the row wraps instead.
_MIN_WRAP = 16


@dataclass(frozen=True)
class Column:
    """A table column: its header, and whether its cells are free text that may wrap.

    Columns that identify things (platform, kind, digest, status) keep ``wrap=False``:
    they are never cut nor wrapped. ``style`` is a rich style for the whole column.
    """

    header: str
    wrap: bool = False
    style: str = ""


Cell = str | Text


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len


def _longest_word(cell: Cell) -> int:
    plain = cell.plain if isinstance(cell, Text) else cell
    return max((Text(word).cell_len for word in plain.split()), default=0)


def _wrap(cell: Cell, width: int) -> list[Text]:
    """``cell`` as lines of at most ``width`` cells, at spaces only.

    A word is never split (a digest in a message stays whole, and copyable); one longer
    than ``width`` gets a line of its own.
    """
    text = cell if isinstance(cell, Text) else Text(cell)
    if text.cell_len <= width:
        return [text]
    lines = textwrap.wrap(
        text.plain, width, break_long_words=False, break_on_hyphens=False, drop_whitespace=True
    )
    return [Text(line, style=text.style) for line in lines] or [Text("")]


def _groups(
    columns: Sequence[Column], natural: list[int], words: list[int], width: int
) -> list[list[int]]:
    """Which columns go on each line of a row: all on one if they fit, else wrapped.

    Greedy, in column order: a column goes on the current line when it fits there (a
    wrapping column when at least :data:`_MIN_WRAP` cells of it, and its longest word,
    fit); otherwise it starts a continuation line, indented by :data:`_INDENT`.
    """
    groups: list[list[int]] = [[]]
    used = 0
    for index, column in enumerate(columns):
        need = natural[index]
        if column.wrap:
            need = min(need, max(_MIN_WRAP, words[index]))
        gap = _GAP if groups[-1] else 0
        if groups[-1] and used + gap + need > width:
            groups.append([index])
            used = _INDENT + need
        else:
            groups[-1].append(index)
            used += gap + need
    return groups


def table_lines(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None
) -> list[Text]:
    """Lay a table out in ``width`` cells (``None``: unlimited); one :class:`Text` per line.

    See the module docstring for the convention. The header is bold; a continuation line
    whose cells are all empty is left out.
    """
    natural = [
        max([_width(column.header), *(_width(row[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    words = [
        max([0, *(_longest_word(row[i]) for row in rows)]) if column.wrap else 0
        for i, column in enumerate(columns)
    ]
    groups = [list(range(len(columns)))]
    if width is not None and sum(natural) + _GAP * (len(columns) - 1) > width:
        groups = _groups(columns, natural, words, width)
    widths = list(natural)
    for number, group in enumerate(groups):
        last = group[-1]
        if width is not None and columns[last].wrap:
            indent = _INDENT if number else 0
            before = sum(natural[i] + _GAP for i in group[:-1])
            widths[last] = max(min(natural[last], width - indent - before), _MIN_WRAP)
    header: list[Cell] = [Text(column.header, style="bold") for column in columns]
    every: list[tuple[Sequence[Cell], bool]] = [(header, True), *((row, False) for row in rows)]
    lines: list[Text] = []
    for cells, is_header in every:
        for number, group in enumerate(groups):
            if number and not is_header and not any(_width(cells[i]) for i in group):
                continue
            wrapped = {i: _wrap(cells[i], widths[i]) for i in group}
            height = max(len(parts) for parts in wrapped.values())
            for row_line in range(height):
                line = Text(" " * _INDENT if number else "")
                for position, i in enumerate(group):
                    parts = wrapped[i]
                    part = parts[row_line].copy() if row_line < len(parts) else Text("")
                    if columns[i].style and not is_header:
                        part.stylize(columns[i].style)
                    line.append_text(part)
                    if position < len(group) - 1:
                        line.append(" " * (widths[i] - part.cell_len + _GAP))
                line.rstrip()
                lines.append(line)
    return lines


def print_table(out: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> None:
    """Print a table on ``out`` with the one convention (see the module docstring)."""
    for line in table_lines(columns, rows, terminal_width(out)):
        out.print(line, soft_wrap=True, overflow="ignore", crop=False)
