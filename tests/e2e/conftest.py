"""One real gateway process for the end-to-end tests that can share it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess() as running:
        yield running


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    """An operator's client: it presents the gateway's local admin token."""
    with httpx.Client(base_url=gateway.url, timeout=30, headers=gateway.admin_headers) as http:
        yield http
