"""Shared fixtures of the seed tests: no name outside loopback resolves (the seeds name
``db.example.com``, ``api.example.com``: nothing of theirs may leave this machine)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo
_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    return host is None or host in _LOOPBACK_NAMES or str(host).startswith("127.") or host == "::1"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is not loopback (seed tests)")
        return _real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
