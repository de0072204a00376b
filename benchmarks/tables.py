"""Report tables shared by the benchmarks: a section is a titled table of text cells, printed
with rich (PASS and MISS coloured) or written as Markdown; with the verdicts on targets, the
figures' formats and the report around the tables, so every benchmark reads alike."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "Report",
    "Section",
    "Verdict",
    "format_ratio",
    "format_us",
    "markdown_table",
    "print_sections",
    "verdict_section",
]


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]]


def _style(cell: str) -> str:
    return {"PASS": "[bold green]PASS[/]", "MISS": "[bold red]MISS[/]"}.get(cell, cell)


def print_sections(sections: Iterable[Section], console: Console) -> None:
    """Each section as a rich table: the first column left-aligned, the figures right."""
    for section in sections:
        table = Table(title=section.title, title_justify="left")
        for index, header in enumerate(section.headers):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in section.rows:
            table.add_row(*(_style(cell) for cell in row))
        console.print(table)


def markdown_table(
    section: Section, escape: Callable[[str], str] = lambda cell: cell.replace("|", "\\|")
) -> list[str]:
    """The section's table as Markdown lines (figures right-aligned)."""
    lines = [
        "| " + " | ".join(section.headers) + " |",
        "|" + "|".join(["---", *("---:" for _ in section.headers[1:])]) + "|",
    ]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in section.rows]
    return lines


@dataclass(frozen=True, slots=True)
class Report:
    """A benchmark's report, made from the JSON its run writes: its tables and how to read
    them, printed with rich or written as Markdown."""

    title: str
    tables: Callable[[dict[str, Any]], Iterable[Section | None]]
    """The tables, None standing for one this run has nothing for."""
    legend: Callable[[dict[str, Any]], list[str]]

    def sections(self, results: dict[str, Any]) -> list[Section]:
        """The tables this run has something for."""
        return [section for section in self.tables(results) if section is not None]

    def print(self, results: dict[str, Any], console: Console) -> None:
        """The tables, then how to read them (dimmed), then the run's notes."""
        print_sections(self.sections(results), console)
        for line in self.legend(results):
            console.print(f"[dim]- {line}[/]")
        for note in results["notes"]:
            console.print(f"[yellow]note:[/] {note}")

    def markdown(self, results: dict[str, Any]) -> str:
        """The whole report as Markdown: command, machine, tables, how to read them, notes."""
        lines = [f"# {self.title}", "", f"Command: `{results['command']}`", ""]
        lines += [f"- {key}: {value}" for key, value in results["machine"].items()]
        for section in self.sections(results):
            lines += ["", f"## {section.title}", "", *markdown_table(section)]
        lines += ["", "## How to read it", ""] + [f"- {line}" for line in self.legend(results)]
        if results["notes"]:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target: its goal, what was measured, whether it was met, and a note."""

    target: str
    goal: str
    measured: str
    passed: bool
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        verdict = "PASS" if self.passed else "MISS"
        return {
            "target": self.target,
            "goal": self.goal,
            "measured": self.measured,
            "verdict": verdict,
            "note": self.note,
        }


def verdict_section(title: str, verdicts: Iterable[Verdict]) -> Section:
    """The verdicts as a table: target, goal, measured, PASS or MISS, note."""
    rows = [
        [v.target, v.goal, v.measured, "PASS" if v.passed else "MISS", v.note] for v in verdicts
    ]
    return Section(title, ["target", "goal", "measured", "verdict", "note"], rows)


def format_us(value: float | None) -> str:
    """Microseconds for a table: 2 decimals under 100 µs, none up to 10 ms, then ms."""
    if value is None or math.isnan(value):
        return "—"
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    return f"{value:,.2f} µs" if value < 100 else f"{value:,.0f} µs"


def format_ratio(slower: float | None, faster: float | None) -> str:
    """How many times ``faster`` goes into ``slower`` ("—" when either is missing)."""
    if slower is None or faster is None or faster <= 0:
        return "—"
    return f"{slower / faster:,.1f}x" if slower / faster < 100 else f"{slower / faster:,.0f}x"
