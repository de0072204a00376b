"""Running the seed documents' code blocks as their readers would, against Lockgate.

A block's text comes from ``blocks.json`` (``extract.py`` writes it from the seeds) and is
run as the seed wrote it, with three kinds of change, each visible in the test that makes it:

* ``lockgate_text``: its imports name ``lockgate`` (``kailash.api.gateway`` →
  ``lockgate``, ``config.gateway`` → ``lockgate.modules`` ...), and so do the names it
  gives Kailash's loggers and patch targets. Nothing else.
* ``Environment``: where it connects, pointed at this machine (``db.example.com`` →
  ``127.0.0.1``, a database, a schema). Any test has to make these.
* ``Fix``: the seed's own mistakes (a positional argument after keywords, ``...`` as an
  argument, a missing import, an undefined placeholder), each with the reason.

Every change asserts that the text it replaces is there, so a seed edited later fails
loudly rather than being patched silently. ``run`` compiles with top-level ``await`` (the
seeds write it, as in a notebook) and ``dont_inherit=True``, so this module's own
``from __future__ import annotations`` cannot hide a ``NameError`` in a block's annotations.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "Block",
    "Environment",
    "Fix",
    "block",
    "blocks",
    "changed",
    "lockgate_text",
    "run",
]

_BLOCKS = Path(__file__).with_name("blocks.json")

# (pattern, replacement) over a block's text: the imports and the names Kailash's code
# gives its own package (logger names, patch targets), and nothing else.
_RENAMES = (
    (
        r"from kailash\.(?:api\.gateway|resources|workflow|gateway\.resource_resolver"
        r"|runtime\.context) import ",
        "from lockgate import ",
    ),
    (
        r"from kailash\.client import KailashClient",
        "from lockgate.client import Client as KailashClient",
    ),
    (r"from config\.(?:gateway|service_registry) import ", "from lockgate.modules import "),
    (r"([\"'])kailash\.(gateway|resources)\1", r"\1lockgate.\2\1"),
    (r"([\"'])config\.gateway\.gateway\.", r"\1lockgate.modules.gateway."),
)


@dataclass(frozen=True, slots=True)
class Block:
    """One code block: its seed (``"002"``), number within the seed, lines and text."""

    seed: str
    n: int
    start: int
    end: int
    lang: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.seed}#{self.n} (lines {self.start}-{self.end})"


@dataclass(frozen=True, slots=True)
class Fix:
    """A seed mistake put right: ``old`` (which must be in the text) becomes ``new``."""

    old: str
    new: str
    why: str


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a block connects, pointed at this machine; not a change to what it does."""

    old: str
    new: str


@cache
def blocks() -> tuple[Block, ...]:
    data = json.loads(_BLOCKS.read_text(encoding="utf-8"))
    return tuple(Block(b["seed"], b["n"], b["start"], b["end"], b["lang"], b["body"]) for b in data)


def block(seed: str, n: int) -> Block:
    for found in blocks():
        if found.seed == seed and found.n == n:
            return found
    raise LookupError(f"no block {seed}#{n} in {_BLOCKS.name}")


def lockgate_text(text: str) -> str:
    """``text`` with its imports (and Kailash's logger names and patch targets) naming
    Lockgate: the only change a block that "runs unchanged" gets."""
    for pattern, replacement in _RENAMES:
        text = re.sub(pattern, replacement, text)
    return text


def changed(text: str, *changes: Fix | Environment) -> str:
    """``text`` with each change applied; each ``old`` must occur in it."""
    for change in changes:
        if change.old not in text:
            raise AssertionError(f"the seed no longer contains {change.old!r}: update the test")
        text = text.replace(change.old, change.new)
    return text


async def run(text: str, namespace: dict[str, Any], label: str = "<seed block>") -> None:
    """Execute ``text`` in ``namespace`` (which it fills), awaiting it if it awaits."""
    code = compile(text, label, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    result = eval(code, namespace)
    if inspect.isawaitable(result):
        await result
