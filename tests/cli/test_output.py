"""Terminal output: a progress line rewritten in place on a terminal, colour only there."""

from __future__ import annotations

import io

import pytest

from service.cli.output import Progress, Style, table


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = FakeTerminal()
    progress = Progress(stream)
    progress.step(0, 3, "checking discovery…")
    progress.step(1, 3, "checking fixture a…")
    progress.clear()
    text = stream.getvalue()
    assert "\n" not in text
    assert text.startswith("\r[1/3] checking discovery…\r[2/3] checking fixture a…")
    assert text.endswith("\r")


def test_progress_prints_lines_elsewhere() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.step(0, 2, "a")
    progress.step(1, 2, "b")
    progress.clear()
    assert stream.getvalue() == "[1/2] a\n[2/2] b\n"


def test_colour_on_terminals_only_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert Style(FakeTerminal())("x", "red") == "\x1b[31mx\x1b[0m"
    assert Style(io.StringIO())("x", "red") == "x"
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style(FakeTerminal())("x", "red") == "x"


def test_table_keeps_columns_aligned_when_painted() -> None:
    style = Style(FakeTerminal())
    lines = table(
        ("check", "result", "detail"),
        [("discovery", "pass", "ok"), ("feedback", "FAIL", "HTTP 500")],
        style,
        paint=lambda column, raw, padded: style(padded, "red") if raw == "FAIL" else padded,
    )
    plain = [line.replace("\x1b[31m", "").replace("\x1b[0m", "") for line in lines]
    assert plain[2] == "discovery  pass    ok"
    assert plain[3] == "feedback   FAIL    HTTP 500"
