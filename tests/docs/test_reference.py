"""The reference pages (``configuration.md``, ``http-api.md`` and ``cli.md`` under
``docs/reference/``) are what ``python -m tests.docs.reference`` renders from the code
today: a setting, table key, endpoint or command added or changed without regenerating them
fails here, saying what to run. Every setting and table key has a description."""

from __future__ import annotations

import pytest

from lockgate.config.settings import Settings
from tests.docs.pages import runnable
from tests.docs.reference import (
    DOCS,
    PAGES,
    REGENERATE,
    TABLE_KEYS,
    setting_descriptions,
    table_fields,
)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_committed_page_is_the_generated_one(page: str) -> None:
    committed = (DOCS / page).read_text(encoding="utf-8")
    assert committed == PAGES[page](), (
        f"docs/{page} is out of date: run `{REGENERATE}` and commit the result"
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_reference_pages_have_no_runnable_block(page: str) -> None:
    # Their blocks are --help output (text): nothing to run, and nothing that could rot.
    assert runnable(f"docs/{page}") == []


def test_every_setting_has_a_description() -> None:
    missing = set(Settings.model_fields) - set(setting_descriptions())
    assert not missing, (
        f"settings without a line in Settings' docstring (Attributes:): {sorted(missing)}"
    )


def test_every_table_key_has_a_description_and_no_description_is_left_over() -> None:
    keys = {key for key, _, _ in table_fields()}
    assert not keys - set(TABLE_KEYS), (
        f"lockgate.toml keys without a description in tests/docs/reference.py TABLE_KEYS: "
        f"{sorted(keys - set(TABLE_KEYS))}"
    )
    assert not set(TABLE_KEYS) - keys, (
        f"TABLE_KEYS describes keys no table has: {sorted(set(TABLE_KEYS) - keys)}"
    )


def test_every_documented_setting_from_the_old_readme_gap_is_there() -> None:
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    for name in (
        "log_level",
        "janitor_interval",
        "log_capture_bytes",
        "sqlite_synchronous",
        "master_key_file",
        "async_max_retries",
        "async_concurrency",
        "async_retention",
    ):
        assert f"`LOCKGATE_{name.upper()}`" in page, name
