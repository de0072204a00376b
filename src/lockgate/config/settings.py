"""Validated settings and the ``lockgate.toml`` loader.

Settings come from four places, strongest first: explicit overrides (CLI flags), ``LOCKGATE_*``
environment variables, the TOML file's ``[gateway]`` table, then the defaults of
:class:`Settings`. The file's functions, routes and other tables become a
:class:`GatewayConfig`. Which file: ``--config``, else ``LOCKGATE_CONFIG``, else a
``lockgate.toml`` in the working directory (:func:`discover_config`; every command that reads
the config uses it, so the CLI and ``lockgate serve`` agree on the stores).

Every problem, from TOML syntax to a setting in the environment, is collected in one
:class:`Inspection` and raised as one :class:`ConfigError` that names the file, each offending
key in dotted form (``functions.echo.scaling.max_capacity``, ``routes[2].function``), what
was expected and what was found, so a user fixes the file in one pass (the wording lives in
:mod:`lockgate.config.problems`). Environment values of functions may be secrets: messages
name their keys, never their values.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import EnvSettingsSource

from lockgate.config.declarations import (
    RESERVED_PATHS,
    RESERVED_PREFIXES,
    FileTable,
    build_modules,
    build_resources,
    build_routes,
    build_workflows,
    is_reserved_path,
)
from lockgate.config.gateway_settings import (
    ENV_PREFIX,
    GATEWAY_TABLE,
    PATH_SETTINGS,
    Settings,
    listen_address,
)
from lockgate.config.problems import Problem, Problems, check, fail, report, settings_problems
from lockgate.config.route_auth import check_route_auth
from lockgate.config.security import build_security
from lockgate.config.tables import build_function, build_jobs
from lockgate.config.toml_file import parse_toml
from lockgate.config.tracing import build_tracing
from lockgate.errors import ConfigError
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig

__all__ = [
    "CONFIG_FILE_NAME",
    "RESERVED_PATHS",
    "RESERVED_PREFIXES",
    "Inspection",
    "Settings",
    "discover_config",
    "inspect_config",
    "inspect_settings",
    "is_reserved_path",
    "listen_address",
    "load_config",
    "load_settings",
]

CONFIG_FILE_NAME = "lockgate.toml"

# A file cannot name itself: said instead of "unknown key".
_HINTS = {
    "gateway.config": f"is not read from the file (a file cannot name the config); use --config "
    f"or {ENV_PREFIX}CONFIG"
}


def discover_config(given: Path | None = None) -> Path | None:
    """The config file to use: ``given``, else ``LOCKGATE_CONFIG``, else ``lockgate.toml`` in
    the working directory when there is one, else None (no file: nothing declared)."""
    if given is not None:
        return given
    if from_env := os.environ.get(f"{ENV_PREFIX}CONFIG"):
        return Path(from_env)
    here = Path(CONFIG_FILE_NAME)
    return here if here.is_file() else None


def _gateway_table(raw: Any, path: Path, problems: Problems) -> dict[str, Any]:
    """The ``[gateway]`` values that are valid (the bad ones reported and left out), paths
    resolved from the file's folder."""
    if not isinstance(raw, dict):
        return {}  # FileTable already said it is not a table
    table: BaseModel | None = None
    values = dict(raw)
    while values and table is None:
        found = Problems()
        table = check(GATEWAY_TABLE, values, ("gateway",), found, hints=_HINTS)
        if table is None:  # report each bad key once, then validate the others again
            problems.extend(p for p in found if p not in problems)
            bad = {p.key.removeprefix("gateway.").split(".")[0].split("[")[0] for p in found}
            kept = {k: v for k, v in values.items() if k not in bad}
            if kept == values:
                return {}
            values = kept
    gateway = table.model_dump(exclude_unset=True) if table is not None else {}
    for name in PATH_SETTINGS & gateway.keys():
        gateway[name] = (path.parent / Path(gateway[name]).expanduser()).absolute()
    if "admin_token" in gateway and _readable_by_others(path):
        problems.add(
            ("gateway", "admin_token"),
            f"{path} is readable by other users: make it private (chmod 600) or set "
            f"{ENV_PREFIX}ADMIN_TOKEN instead",
        )
        del gateway["admin_token"]
    return gateway


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _salvage(
    name: str, raw: Mapping[str, Any], base: Path, found: list[Problem]
) -> FunctionEntity | None:
    """The function without its bad keys, when its handler and code_dir are good, so one
    run also says whether its handler loads."""
    prefix = f"functions.{name}."
    bad = {p.key.removeprefix(prefix).split(".")[0] for p in found if p.key.startswith(prefix)}
    whole = any(not p.key.startswith(prefix) for p in found)
    if whole or bad & {"handler", "code_dir", "runtime", "command", "backend"}:
        return None  # a problem with the function as a whole, or with what loads it
    return build_function(name, {k: v for k, v in raw.items() if k not in bad}, base, Problems())


def inspect_config(path: Path) -> tuple[GatewayConfig, dict[str, Any], Problems]:
    """Read a ``lockgate.toml`` and find every problem in it, without raising.

    Returns:
        What is valid of the config (every valid function, even when other tables are bad),
        the valid ``[gateway]`` values, and the problems (syntax, keys, types and references
        between tables).
    """
    problems = Problems()
    data = parse_toml(path, problems)
    if data is None:
        return GatewayConfig(), {}, problems
    check(FileTable, data, (), problems)
    gateway = _gateway_table(data.get("gateway", {}), path, problems)

    def table(name: str, empty: Any) -> Any:
        raw = data.get(name, empty)
        return raw if isinstance(raw, type(empty)) else empty

    raw_functions = table("functions", {})
    base = path.parent.resolve()
    functions: dict[str, FunctionEntity] = {}
    for name, raw in raw_functions.items():
        before = len(problems)
        if isinstance(raw, dict) and (entity := build_function(name, raw, base, problems)):
            functions[name] = entity
        elif isinstance(raw, dict) and (entity := _salvage(name, raw, base, problems[before:])):
            functions[name] = entity  # only so its handler is checked too: the file is bad
    # Declared but invalid functions count as declared: their own errors are enough.
    routes = build_routes(table("routes", []), set(raw_functions), problems)
    workflows = build_workflows(table("workflows", {}), base, problems)
    resources = build_resources(table("resources", {}), problems)
    modules = build_modules(table("modules", {}), base, problems)
    jobs = build_jobs(table("jobs", {}), base, problems)
    security = build_security(data, problems)
    tracing = build_tracing(data, problems)
    check_route_auth(
        routes,
        authorizers=security.authorizers,
        plans=security.usage_plans,
        functions=raw_functions,
        auth_authorizer=security.auth.authorizer,
        problems=problems,
    )
    # A key whose line had a syntax error was left out: that it is missing goes without saying.
    broken = {p.key for p in problems if p.line is not None}
    problems[:] = [p for p in problems if p.line is not None or p.key not in broken]
    try:
        config = GatewayConfig(
            functions=functions,
            routes=tuple(route for _, route in routes),
            workflows=workflows,
            resources=resources,
            modules=modules,
            jobs=jobs,
            security=security,
            tracing=tracing,
        )
    except ValueError as exc:
        if not problems:  # otherwise it is one of theirs, said better
            problems.append(Problem("routes", str(exc)))
        config = GatewayConfig(functions=functions)
    return config, gateway, problems


def load_config(path: Path) -> tuple[GatewayConfig, dict[str, Any]]:
    """Read a ``lockgate.toml``.

    Args:
        path: The file; handlers and relative ``code_dir`` values resolve from its folder.

    Returns:
        The declared functions and routes, and the ``[gateway]`` table's values (only the
        keys the file sets, already validated and normalised).

    Raises:
        ConfigError: The file is missing, unreadable or not TOML, or any value is invalid;
            every problem is listed, ``fields["key"]`` is the first and ``fields["keys"]`` all.
    """
    config, gateway, problems = inspect_config(path)
    if problems:
        fail(path, problems)
    return config, gateway


@dataclass(frozen=True, slots=True)
class Inspection:
    """Everything one look at the settings and the config file found.

    Attributes:
        path: The config file (None without one).
        settings: The settings, or None when one of them is invalid.
        config: What is valid of the config (all of it when there are no problems).
        problems: Every problem, the file's first.
        envs: For each problem, the environment variable its value came from, or None.
    """

    path: Path | None
    settings: Settings | None
    config: GatewayConfig
    problems: tuple[Problem, ...] = ()
    envs: tuple[str | None, ...] = field(default=())

    def error(self, more: tuple[Problem, ...] = ()) -> ConfigError:
        """One ConfigError listing these problems (and ``more``)."""
        problems = [*self.problems, *more]
        envs = [*self.envs, *(None for _ in more)]
        env = next((e for e in envs if e is not None), None)
        return report(self.path, problems, env=env)


def inspect_settings(config_path: Path | None = None, **overrides: Any) -> Inspection:
    """Settings and the gateway's config, with every problem in either, without raising.

    Args:
        config_path: The ``lockgate.toml``; when None, ``config`` from the overrides, else
            :func:`discover_config`'s.
        overrides: Settings fields given explicitly (CLI flags); None means "not given".
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    from_env: Mapping[str, Any] = EnvSettingsSource(Settings)()
    path = discover_config(config_path if config_path is not None else given.get("config"))
    path = Path(path) if path is not None else None
    config, from_file, problems = (
        inspect_config(path) if path is not None else (GatewayConfig(), {}, Problems())
    )
    envs: list[str | None] = [None] * len(problems)
    try:
        # Passed as init values, which pydantic-settings ranks above the environment.
        settings: Settings | None = Settings(**{**from_file, **from_env, **given, "config": path})
    except ValidationError as exc:
        settings = None
        found, found_envs = settings_problems(
            exc, Settings, given=given, from_env=from_env, path=path, env_prefix=ENV_PREFIX
        )
        problems.extend(found)
        envs.extend(found_envs)
    return Inspection(path, settings, config, tuple(problems), tuple(envs))


def load_settings(
    config_path: Path | None = None, **overrides: Any
) -> tuple[Settings, GatewayConfig]:
    """Settings and the gateway's functions and routes.

    Args:
        config_path: The ``lockgate.toml``; when None, ``config`` from the overrides,
            ``LOCKGATE_CONFIG`` or ``lockgate.toml`` in the working directory; when there
            is none either, no functions are declared.
        overrides: Settings fields given explicitly (CLI flags); None means "not given".

    Returns:
        The settings (overrides > environment > ``[gateway]`` table > defaults) and the config.

    Raises:
        ConfigError: The file or any setting is invalid, every problem listed;
            ``fields["key"]`` names the first and ``fields["env"]`` the environment variable
            when a bad value came from one.
    """
    inspection = inspect_settings(config_path, **overrides)
    if inspection.problems or inspection.settings is None:
        raise inspection.error()
    return inspection.settings, inspection.config
