"""Writes ``blocks.json``: every code block of the seed documents, numbered per seed.

Run it when the seeds change: ``python -m tests.seeds.extract PATH/TO/seeds``. Fenced
blocks (three backticks) and reST ``.. code-block::`` directives are both read; a block's
common indentation is removed, so each runs as written at top level. A document with no
block at all (seed 001 is a web page's text, its code flattened to one line per statement)
gives its example as one ``flattened`` block: the lines between ``Example Pattern:`` and
the next ``...:`` heading line.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["extract", "main"]

BLOCKS = Path(__file__).with_name("blocks.json")
_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_FENCE_END = re.compile(r"^\s*```\s*$")
_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*(\w+)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fenced(lines: list[str], i: int, indent: str) -> tuple[int, list[str]]:
    """The body of the fence opened at line ``i`` and the index of its closing line."""
    j = i + 1
    while j < len(lines) and not _FENCE_END.match(lines[j]):
        j += 1
    body = [x[len(indent) :] if x.startswith(indent) else x.lstrip() for x in lines[i + 1 : j]]
    return j, body


def _directive(lines: list[str], i: int, base: int) -> tuple[int, int, list[str]]:
    """The body of the directive at line ``i``: its first and last lines, dedented."""
    start = i + 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    last = k = start
    while k < len(lines):
        if lines[k].strip():
            if _indent(lines[k]) <= base:
                break
            last = k
        k += 1
    block = lines[start : last + 1]
    common = min(_indent(x) for x in block if x.strip())
    return start, last, [x[common:] for x in block]


def extract(path: Path) -> list[dict[str, Any]]:
    """Every block of one seed document, in order."""
    seed, lines, i = path.name[:3], path.read_text().splitlines(), 0
    found: list[dict[str, Any]] = []
    while i < len(lines):
        fence, directive = _FENCE.match(lines[i]), _DIRECTIVE.match(lines[i])
        if fence:
            end, body = _fenced(lines, i, fence.group(1))
            start, lang, i = i + 2, fence.group(2) or "none", end + 1
            end_line = end
        elif directive:
            first, last, body = _directive(lines, i, len(directive.group(1)))
            start, lang, end_line, i = first + 1, directive.group(2), last + 1, last + 1
        else:
            i += 1
            continue
        found.append(
            {
                "seed": seed,
                "n": len(found) + 1,
                "start": start,
                "end": end_line,
                "lang": lang,
                "body": "\n".join(body),
            }
        )
    return found


def _flattened(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    if "Example Pattern:" not in lines:
        return []
    start = lines.index("Example Pattern:") + 1
    end = next(i for i in range(start, len(lines)) if lines[i] == "Special Considerations:")
    body = "\n".join(lines[start:end])
    return [
        {
            "seed": path.name[:3],
            "n": 1,
            "start": start + 1,
            "end": end,
            "lang": "flattened",
            "body": body,
        }
    ]


def main(folder: str) -> None:
    blocks = [b for p in sorted(Path(folder).glob("*.txt")) for b in (extract(p) or _flattened(p))]
    BLOCKS.write_text(json.dumps(blocks, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(blocks)} blocks written to {BLOCKS.name}")


if __name__ == "__main__":
    main(sys.argv[1])
