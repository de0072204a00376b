"""Every problem with a gateway's configuration, found in one pass for ``lockgate check``
and ``lockgate serve``: the file (syntax, keys, types, references between tables), the
settings wherever they came from, and the functions' handlers, each loaded in a throwaway
worker (never in this process)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockgate.config.problems import Problem
    from lockgate.config.settings import Inspection, Settings
    from lockgate.errors import ConfigError
    from lockgate.models.gateway_config import GatewayConfig

__all__ = ["find_problems"]


def find_problems(
    config: Path | None, *, handlers: bool | None = None, **overrides: Any
) -> tuple[Inspection, ConfigError | None]:
    """The settings and config ``config`` (or discovery) gives, and one error listing every
    problem, or None.

    Args:
        handlers: Whether to load the handlers; None: as the ``check_handlers`` setting says.
        overrides: Settings given explicitly (CLI flags); None means "not given".
    """
    from lockgate.config.settings import Settings, inspect_settings  # noqa: PLC0415

    inspection = inspect_settings(config, **overrides)
    # With an invalid setting the defaults stand in, so the handlers are still checked.
    settings: Settings = inspection.settings or Settings.model_construct()
    check = settings.check_handlers if handlers is None else handlers
    more = _check_quietly(settings, inspection.config) if check else []
    if inspection.problems or more or inspection.settings is None:
        return inspection, inspection.error(tuple(more))
    return inspection, None


def _check_quietly(settings: Settings, config: GatewayConfig) -> list[Problem]:
    """``check_functions``, with asyncio's own warnings held back: it runs before the log is
    configured (they would be bare text in a JSON log), and the one it gives, "Unknown child
    process", only says a worker the check killed was reaped twice."""
    from lockgate.bootstrap import check_functions  # noqa: PLC0415

    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.ERROR)
    try:
        return asyncio.run(check_functions(settings, config))
    finally:
        asyncio_log.setLevel(level)
