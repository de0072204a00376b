"""Every documentation page, the test module that runs its examples, and how a page's blocks
are read.

The convention every page follows, so that no example can rot:

* A page is Markdown with fenced blocks tagged by language: ``python``, ``toml`` and ``sh``
  (commands a user types, without a ``$`` prompt) are *runnable*; ``text`` (output, trees),
  ``json`` and ``yaml`` are not run.
* Each page has one entry in :data:`PAGES`: its path (from the repository's root) and the
  test module that runs its runnable blocks, in order, from an empty folder, as a user
  would, and checks what the page says they print. That module asserts it ran as many blocks
  as :func:`runnable` finds on the page, so a block added later without being run fails it.
* A block that cannot run in the suite (it needs real AWS, say) is preceded by the comment
  ``<!-- not-run: the reason -->`` on the line before its fence; use it rarely.
* ``tests/docs/test_pages.py`` fails for a page under ``docs/`` (or ``README.md``) that has
  no entry, an entry whose page or module is gone, and a fence without a language.

A new page: write it, add its test module (``tests/docs/test_<name>.py``), add the line here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

__all__ = ["LANGUAGES", "PAGES", "ROOT", "RUNNABLE", "Block", "blocks", "runnable"]

ROOT = Path(__file__).parents[2]
RUNNABLE = frozenset({"python", "toml", "sh"})
LANGUAGES = RUNNABLE | {"text", "json", "yaml"}

# page (from the repository's root) -> the test module that runs its runnable blocks.
PAGES: dict[str, str] = {
    "README.md": "tests.docs.test_readme",
    "docs/index.md": "tests.docs.test_pages",
    "docs/tutorials/first-project.md": "tests.docs.test_first_project",
    "docs/tutorials/functions.md": "tests.docs.test_functions",
    "docs/tutorials/workflows.md": "tests.docs.test_workflows",
    "docs/tutorials/modules.md": "tests.docs.test_modules",
    "docs/architecture.md": "tests.docs.test_architecture",
    "CONTRIBUTING.md": "tests.docs.test_contributing",
    "docs/security.md": "tests.e2e.test_docs_security",
    "docs/python-api.md": "tests.seeds.test_python_api_page",
    "docs/how-to/aws-tools.md": "tests.docs.test_aws_tools",
    "docs/how-to/custom-runtimes.md": "tests.docs.test_custom_runtimes",
    "docs/how-to/aws-lambda-and-batch.md": "tests.docs.test_aws_lambda_and_batch",
    "docs/how-to/resources.md": "tests.docs.test_resources",
    "docs/how-to/secrets.md": "tests.docs.test_secrets",
    "docs/how-to/deployment.md": "tests.docs.test_deployment",
    "docs/how-to/logs.md": "tests.docs.test_logs",
    "docs/how-to/monitoring.md": "tests.docs.test_monitoring",
    "docs/how-to/reload.md": "tests.docs.test_reload",
    "docs/how-to/tracing.md": "tests.docs.test_tracing",
    "docs/reference/configuration.md": "tests.docs.test_reference",
    "docs/reference/http-api.md": "tests.docs.test_reference",
    "docs/reference/cli.md": "tests.docs.test_reference",
}

_FENCE = re.compile(r"^```(\S*)\n(.*?)^```\n", re.S | re.M)
_NOT_RUN = re.compile(r"<!-- not-run: (.+?) -->\n$")


class Block(NamedTuple):
    """One fenced block: its language, its text, the line its fence opens on, and why it is
    not run (None for a block that runs)."""

    language: str
    text: str
    line: int
    not_run: str | None


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``page`` (a path from the repository's root), in order."""
    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()]
        reason = _NOT_RUN.search(before)
        found.append(
            Block(
                match.group(1),
                match.group(2),
                before.count("\n") + 1,
                reason.group(1) if reason else None,
            )
        )
    return found


def runnable(page: str, language: str | None = None) -> list[Block]:
    """The blocks of ``page`` the suite runs (of one ``language``, if given)."""
    return [
        block
        for block in blocks(page)
        if block.language in RUNNABLE
        and block.not_run is None
        and language in (None, block.language)
    ]
