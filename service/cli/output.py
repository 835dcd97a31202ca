"""Terminal output for people: colour only on a terminal, wrapped text, a progress line, tables.

Colour follows the usual conventions: on when the stream is a terminal, off when it is not
or when ``NO_COLOR`` is set, forced on with ``FORCE_COLOR``.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import TextIO

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
}


def wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class Style:
    def __init__(self, stream: TextIO) -> None:
        self.enabled = wants_colour(stream)

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))


def wrap(text: str, indent: str, columns: int | None = None) -> list[str]:
    """Wraps each paragraph; keeps Markdown list items and blank lines recognisable."""
    columns = columns or width()
    out: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            out.append("")
            continue
        stripped = line.lstrip()
        lead = line[: len(line) - len(stripped)]
        hang = lead
        for bullet in ("- ", "* ", "+ ", "-> "):
            if stripped.startswith(bullet):
                hang = lead + " " * len(bullet)
                break
        out.extend(
            textwrap.wrap(
                stripped,
                width=max(20, columns - len(indent)),
                initial_indent=lead,
                subsequent_indent=hang,
                break_on_hyphens=False,
                break_long_words=False,
            )
            or [""]
        )
    return [indent + line if line else "" for line in out]


class Progress:
    """One line rewritten in place on a terminal; otherwise (logs, CI) a line at the first
    and the last step and at every tenth of the way, whatever the number of steps."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0
        self._tenth = -1

    def step(self, done: int, total: int, label: str) -> None:
        text = f"[{done + 1}/{total}] {label}"
        if self.live:
            text = text[: width() - 1]
            pad = max(0, self._last - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last = len(text)
        else:
            tenth = (done + 1) * 10 // max(total, 1)
            if tenth == self._tenth and done + 1 != total:
                return
            self._tenth = tenth
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self._last:
            self.stream.write("\r" + " " * self._last + "\r")
            self.stream.flush()
            self._last = 0


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    style: Style,
    paint: Callable[[int, str, str], str] | None = None,
) -> list[str]:
    """A plain-text table; the last column is wrapped to the terminal width.

    ``paint(column, raw_cell, padded_cell)`` may colour a cell after padding, so escape
    codes never upset the alignment.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    fixed = sum(widths[:-1]) + 2 * (len(headers) - 1)
    last_width = width() - fixed
    # Long names leave no room for the detail column: give it lines of its own.
    stacked = last_width < 40
    if stacked:
        last_width = width() - 4
    header_cells = list(headers[:-1]) if stacked else list(headers)
    lines = [
        style("  ".join(h.ljust(widths[i]) for i, h in enumerate(header_cells)).rstrip(), "bold"),
        "  ".join("-" * w for w in widths[: len(header_cells)]),
    ]
    for row in rows:
        wrapped = textwrap.wrap(
            row[-1], last_width, break_on_hyphens=False, break_long_words=False
        ) or [""]
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        if paint is not None:
            cells = [paint(i, row[i], cell) for i, cell in enumerate(cells)]
        if stacked:
            lines.append("  ".join(cells).rstrip())
            lines.extend(("    " + extra).rstrip() for extra in wrapped if extra)
            continue
        lines.append("  ".join([*cells, wrapped[0]]).rstrip())
        for extra in wrapped[1:]:
            lines.append((" " * fixed + extra).rstrip())
    return lines
