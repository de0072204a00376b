"""Report tables shared by the benchmarks: a section is a titled table of text cells, printed
with rich (PASS and MISS coloured) or written as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

__all__ = ["Section", "markdown_table", "print_sections"]


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
