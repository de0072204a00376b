"""Shared fixtures."""

from __future__ import annotations

import pytest

from tests.support import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
