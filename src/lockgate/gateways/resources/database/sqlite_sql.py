"""The I/O-free SQL helpers behind ``SQLiteDatabase``'s asyncpg-compatible API.

Why a module of their own: rewriting asyncpg's ``$1`` placeholders, splitting a script where
SQLite ends a statement, phrasing asyncpg's status strings and the ``asyncpg.Record``-like
``Row`` are pure text and data work. Kept apart from the connection pool (``sqlite_pool``)
they stay small and are unit-tested without opening a database.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

__all__ = ["Row", "split_statements", "statement_status", "translate_placeholders"]

# Literals, quoted identifiers and comments are copied as they are; only a bare $N changes.
_SQL_TOKEN = re.compile(
    r"""'[^']*(?:''[^']*)*'?|"[^"]*(?:""[^"]*)*"?|`[^`]*`?|\[[^\]]*\]?"""
    r"|--[^\n]*|/\*.*?(?:\*/|\Z)|\$(\d+)",
    re.DOTALL,
)
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z))*", re.DOTALL)
_OBJECT_WORDS = frozenset({"TABLE", "INDEX", "VIEW", "TRIGGER"})


@functools.lru_cache(maxsize=512)
def translate_placeholders(sql: str) -> str:
    """``sql`` with asyncpg's ``$1, $2`` rewritten as SQLite's ``?1, ?2``, leaving string
    literals, quoted identifiers and comments untouched."""
    return _SQL_TOKEN.sub(lambda m: f"?{m[1]}" if m[1] else m[0], sql)


def split_statements(script: str) -> list[str]:
    """``script``'s statements, split where SQLite itself sees one end (so a ``;`` inside a
    literal or a trigger body does not split)."""
    statements, start = [], 0
    for end in (i + 1 for i, char in enumerate(script) if char == ";"):
        if sqlite3.complete_statement(script[start:end]):
            statements.append(script[start:end])
            start = end
    if script[start:].strip():
        statements.append(script[start:])
    return [s for s in statements if s.strip(" \t\r\n;")]


def statement_status(sql: str, cursor: sqlite3.Cursor, rows: int) -> str:
    """An asyncpg-style status: ``INSERT 0 n``, ``UPDATE n``, ``DELETE n``, ``SELECT n``;
    otherwise the leading keyword(s) (``CREATE TABLE``, ``BEGIN``).

    Args:
        sql: The statement that ran.
        cursor: Its (still open) cursor, read for ``description`` and ``rowcount`` only.
        rows: How many rows it returned.
    """
    noise = _LEADING_NOISE.match(sql)
    words = sql[noise.end() if noise else 0 :].split(None, 4)
    verb = words[0].upper() if words else ""
    if cursor.description is not None:
        return f"SELECT {rows}"
    if verb == "INSERT":
        return f"INSERT 0 {cursor.rowcount}"
    if verb in ("UPDATE", "DELETE"):
        return f"{verb} {cursor.rowcount}"
    if verb in ("CREATE", "DROP", "ALTER"):
        kind = next((w.upper() for w in words[1:] if w.upper() in _OBJECT_WORDS), "")
        return f"{verb} {kind}".strip()
    return verb


class Row(sqlite3.Row):
    """A result row: ``row["col"]``, ``row[0]``, ``dict(row)``, ``len(row)``, iteration
    over values, plus ``asyncpg.Record``'s ``get``, ``values`` and ``items``."""

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except (IndexError, KeyError):
            return default

    def values(self) -> Iterator[Any]:
        return iter(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        return zip(self.keys(), self, strict=True)
