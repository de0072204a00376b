"""The examples of ``docs/python-api.md`` run as written, in order, from one empty folder
with a master key in the environment, as the page says; what they print is what the page's
comments say they print."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockgate.use_cases.secrets.master_key import generate_master_key
from tests.seeds.support import run

PAGE = Path(__file__).parents[2] / "docs" / "python-api.md"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return [body for kind, body in _FENCE.findall(PAGE.read_text()) if kind == "python"]


@pytest.fixture
def loggers() -> Iterator[None]:
    """The page's last example sets levels and a handler on the root logger: undone after."""
    root = logging.getLogger()
    handlers, levels = (
        list(root.handlers),
        {n: logging.getLogger(n).level for n in ("lockgate.gateway", "lockgate.resources")},
    )
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_the_pages_examples_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loggers: None
) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOCKGATE_MASTER_KEY", generate_master_key())
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) == 8
    printed = []
    for number, text in enumerate(blocks):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            await run(text, {"__name__": "__main__"}, f"python-api.md, example {number + 1}")
        printed.append(out.getvalue())
    assert printed[0] == "completed [{'id': 1, 'name': 'ann'}, {'id': 2, 'name': 'bo'}]\n"
    assert printed[1].startswith("healthy {'title': 'Lockgate', 'description': ''}")
    assert printed[2] == "{'count': 2}\n{'count': 2}\n"
    assert printed[3] == "{'api_key': 'sk-1234567890'}\nSecret not found, using defaults\n"
    assert printed[4] == "42 ['counter_orders']\n"
    assert "s3cret" not in printed[6]
    assert "password=***" in printed[6]
    assert printed[6].endswith("healthy healthy\n")
