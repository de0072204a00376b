"""Fixtures the unit tests share."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCKGATE_* variables must not leak into settings tests."""
    for name in os.environ:
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)
