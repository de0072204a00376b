"""Reading ``lockgate.toml``: unreadable files and TOML syntax errors as problems.

A syntax error does not end the check: the line is left out (a broken table header becomes a
throwaway table, so the keys under it do not land in the table above) and the file parsed
again, so one run reports every syntax error and still checks the rest of the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from lockgate.config.problems import Problem, Problems, dotted

__all__ = ["parse_toml"]

# Past this many syntax errors the rest of the file is probably one of them, moved.
_MAX_SYNTAX_ERRORS = 10
_SKIPPED = "lockgate-skipped-line-"
_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")
_HEADER = re.compile(r"^\s*(\[\[?)([^\]]+)\]")
_ASSIGN = re.compile(
    r"^\s*((?:[\w-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[\w-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_KEY_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([\w-]+)")


def _key_parts(text: str) -> list[str | int]:
    return [next(g for g in m.groups() if g is not None) for m in _KEY_PART.finditer(text)]


def _key_at(lines: list[str], line: int) -> str | None:
    """Best guess at the dotted key on ``line``, so a syntax error names a key too."""
    table: list[str | int] = []
    arrays: dict[str, int] = {}
    for number, content in enumerate(lines[:line], start=1):
        if header := _HEADER.match(content):
            table = _key_parts(header[2])
            if header[1] == "[[":  # each [[routes]] is the next item of the array
                arrays[header[2]] = arrays.get(header[2], -1) + 1
                table.append(arrays[header[2]])
        elif number == line and (assign := _ASSIGN.match(content)):
            return dotted([*table, *_key_parts(assign[1])])
    return dotted(table) or None


def _read_text(path: Path, problems: Problems) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem("config", f"config file not found (looked for {path.absolute()})"))
        return None
    except OSError as exc:
        problems.append(Problem("config", f"cannot read the config file: {exc.strerror or exc}"))
        return None
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(
                "config", f"not valid UTF-8 (byte {exc.start}); TOML files must be UTF-8", line, 1
            )
        )
        return None


def parse_toml(path: Path, problems: Problems) -> dict[str, Any] | None:
    """The parsed file, with its syntax errors added to ``problems`` and their lines left
    out; None (its problem added) when it cannot be read at all or parsing cannot recover."""
    text = _read_text(path, problems)
    if text is None:
        return None
    lines = text.split("\n")
    skipped: set[int] = set()
    while len(skipped) < _MAX_SYNTAX_ERRORS:
        try:
            data = tomllib.loads("\n".join(lines))
        except tomllib.TOMLDecodeError as exc:
            # Python 3.11's error carries its position only in the message.
            position = _TOML_POSITION.search(str(exc))
            reason = _TOML_POSITION.sub("", str(exc))
            line = int(position[1]) if position and position[1] else len(lines)
            column = int(position[2]) if position and position[2] else 1
            if line in skipped or line > len(lines):  # leaving lines out does not help
                return None
            key = _key_at(lines, line) or "config"
            # The line itself is not quoted: it may hold a secret environment value.
            problems.append(Problem(key, f"TOML syntax error: {reason}", line, column))
            skipped.add(line)
            header = lines[line - 1].lstrip().startswith("[")
            lines[line - 1] = f"[{_SKIPPED}{line}]" if header else ""
            continue
        return {k: v for k, v in data.items() if not k.startswith(_SKIPPED)}
    return None
