"""The uvicorn settings ``lockgate serve`` runs with, in one place: the benchmarks' reference
apps import them too, so "the same server settings" holds by construction."""

from __future__ import annotations

from typing import Any

__all__ = ["SERVER_OPTIONS"]

SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "log_config": None,
    "access_log": False,
}
