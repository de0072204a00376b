"""A command group whose commands are imported only when they run.

``lockgate --help`` lists every command but imports none of them: their modules pull in
httpx, rich, pydantic and (for ``serve``) the whole gateway, which cost over a second
before the first line of help. Each command is named by ``module:attribute`` (a function
or a ``typer.Typer``) with the one-line help the listing shows; a unit test holds that line
to the command's own docstring, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
import typer.main
from typer.core import TyperGroup

__all__ = ["LazyCommand", "LazyGroup", "load"]


class LazyCommand(NamedTuple):
    """Where a command lives (``module:attribute``) and its line in the listing."""

    target: str
    summary: str


def load(name: str, target: str) -> Any:
    """The click command for ``target``: a ``typer.Typer`` becomes a group, a function a
    command named ``name``."""
    module, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        group = typer.main.get_group(found)  # as add_typer would: no completion options
        group.name = name
        return group
    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(name)(found)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """A typer group that also serves the commands of ``lazy``, importing each on first use
    (a subclass sets ``lazy``: ``typer.Typer(cls=...)`` constructs the group itself)."""

    lazy: dict[str, LazyCommand] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.commands[cmd_name] = load(cmd_name, self.lazy[cmd_name].target)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The listing, from the summaries: nothing is imported to print it."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name].summary))
                continue
            command = self.commands[name]
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit=formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
