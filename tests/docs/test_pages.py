"""Every code example in the docs is run by some test: each page under ``docs/`` and the
README has an entry in :data:`tests.docs.pages.PAGES` naming an existing test module that
reads it, and every fence says its language. ``docs/index.md`` (the map of pages) has no
runnable block; this module checks that too, and that it links every page there is."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.docs.pages import LANGUAGES, PAGES, ROOT, blocks, runnable

DOCS = ROOT / "docs"


def pages_on_disk() -> set[str]:
    return {"README.md", *(str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md"))}


def test_every_page_has_a_test_module() -> None:
    missing = sorted(pages_on_disk() - set(PAGES))
    assert not missing, (
        f"pages without an entry in tests/docs/pages.py PAGES: {missing}; add each with the "
        "test module that runs its examples"
    )


def test_every_entry_names_a_page_and_a_module_that_reads_it() -> None:
    for page, module in PAGES.items():
        assert (ROOT / page).is_file(), f"PAGES names {page}, which does not exist"
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"PAGES names {module} for {page}: no such module"
        assert spec.origin is not None
        source = Path(spec.origin).read_text(encoding="utf-8")
        assert page.rsplit("/", 1)[-1] in source, (
            f"{module} never names {page}: is it the module that runs that page's examples?"
        )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_fence_says_its_language(page: str) -> None:
    untagged = [b.line for b in blocks(page) if b.language not in LANGUAGES]
    assert not untagged, (
        f"{page}: fences at lines {untagged} need a language of {sorted(LANGUAGES)}"
    )


def test_the_docs_home_links_every_page_and_runs_nothing() -> None:
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    assert runnable("docs/index.md") == []
    linked = set(re.findall(r"\]\(([^)#]+\.md)", home))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} - {"index.md"}
    assert pages <= linked, f"docs/index.md does not link {sorted(pages - linked)}"
