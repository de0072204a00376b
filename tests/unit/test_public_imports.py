"""The import paths users rely on keep working when modules move: every name the package
exports lazily, and the old module paths the docs and the README showed (kept as thin
re-exports)."""

from __future__ import annotations

import importlib

import pytest

import lockgate


@pytest.mark.parametrize("name", lockgate.__all__)
def test_every_name_the_package_exports_is_found_where_its_table_says(name: str) -> None:
    assert getattr(lockgate, name) is not None


@pytest.mark.parametrize(
    ("old", "new"),
    [("lockgate.settings", "lockgate.config.settings")],
)
def test_an_old_module_path_re_exports_the_same_objects(old: str, new: str) -> None:
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    assert old_module.__all__
    for name in old_module.__all__:
        assert getattr(old_module, name) is getattr(new_module, name)
