"""The one table layout of the CLI (the convention is in :mod:`polyarch.cli.render`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from polyarch.cli.render.output import terminal_width

if TYPE_CHECKING:
    # rich is imported by the functions that lay a table out, never by importing this
    # module: a command's -q and --json paths load no rich.
    from rich.console import Console
    from rich.text import Text

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


#: A table cell: plain text, or a rich ``Text`` carrying a style.
Cell: TypeAlias = "str | Text"


def _width(cell: Cell) -> int:
    from rich.text import Text

    return cell.cell_len if isinstance(cell, Text) else Text(cell).cell_len


#: A digest in free text (``sha256:`` and its hex, maybe with trailing punctuation): the
#: one kind of word never split, so that it stays whole and copyable.
_DIGEST_WORD = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}\W*")


def _longest_word(cell: Cell) -> int:
    """The longest digest in ``cell``: a wrapping column is never narrower than that."""
    plain = cell if isinstance(cell, str) else cell.plain
    return max((len(w) for w in plain.split() if _DIGEST_WORD.fullmatch(w)), default=0)


def _wrap(cell: Cell, width: int) -> list[Text]:
    """``cell`` as lines of at most ``width`` cells, at spaces.

    A word longer than ``width`` (a path, a reference) is split across lines, except a
    digest: it stays whole (and copyable), on a line of its own if need be.
    """
    from rich.text import Text

    text = cell if isinstance(cell, Text) else Text(cell)
    if text.cell_len <= width:
        return [text]
    words: list[str] = []
    for word in text.plain.split():
        if len(word) > width and not _DIGEST_WORD.fullmatch(word):
            words.extend(word[i : i + width] for i in range(0, len(word), width))
        else:
            words.append(word)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
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
    from rich.text import Text

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
        wraps = [i for i in group if columns[i].wrap]
        if width is None or not wraps:
            continue
        # The free-text columns of a line share what the others leave of the width.
        fixed = sum(natural[i] for i in group if not columns[i].wrap) + _GAP * (len(group) - 1)
        room = width - (_INDENT if number else 0) - fixed
        if sum(natural[i] for i in wraps) > room:
            share = room // len(wraps)
            for i in wraps:
                widths[i] = min(natural[i], max(share, _MIN_WRAP))
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
