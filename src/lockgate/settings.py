"""Moved to :mod:`lockgate.config.settings`. This path stays because the README and users'
code import ``Settings``, ``load_settings`` and ``load_config`` from ``lockgate.settings``."""

from __future__ import annotations

from lockgate.config.settings import (
    RESERVED_PATHS,
    RESERVED_PREFIXES,
    Settings,
    is_reserved_path,
    listen_address,
    load_config,
    load_settings,
)

__all__ = [
    "RESERVED_PATHS",
    "RESERVED_PREFIXES",
    "Settings",
    "is_reserved_path",
    "listen_address",
    "load_config",
    "load_settings",
]
