"""Validated settings and the ``lockgate.toml`` loader.

Settings come from four places, strongest first: explicit overrides (CLI flags), ``LOCKGATE_*``
environment variables, the TOML file's ``[gateway]`` table, then the defaults below. The file's
functions and routes become a :class:`GatewayConfig`.

Every problem becomes one :class:`ConfigError` that names the file, each offending key in
dotted form (``functions.echo.scaling.max_capacity``, ``routes[2].function``), what was expected
and what was found, and lists all problems at once so a user fixes the file in one pass.
Environment values of functions may be secrets: messages name their keys, never their values.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, NoReturn, TypeVar, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from lockgate.errors import ConfigError
from lockgate.models.function import FUNCTION_NAME_PATTERN, FunctionEntity, ScalingConfig
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.routing import HTTP_METHODS, Route

__all__ = ["Settings", "load_config", "load_settings"]

_ENV_PREFIX = "LOCKGATE_"


@dataclass(frozen=True, slots=True)
class _Expect:
    """``Annotated`` marker: how to say what a field expects when types alone can't."""

    text: str


def _log_level(value: str) -> str:
    name = value.upper()
    if name not in logging.getLevelNamesMapping():
        raise ValueError("")  # empty: the field's _Expect already says it all
    return name


class Settings(BaseSettings):
    """How the gateway runs (not what it serves: that is the :class:`GatewayConfig`).

    Attributes:
        host, port: Where the HTTP server listens.
        config: The ``lockgate.toml`` the functions and routes came from, if any.
        max_body_bytes: Largest request body accepted; larger ones get 413.
        start_budget: Worker starts in flight at once, across all functions.
        log_format, log_level: How and how much the gateway logs.
        janitor_interval: Seconds between Janitor sweeps for idle workers.
        log_capture_bytes: Captured handler output kept per invocation.
        shutdown_grace: Seconds in-flight calls get to finish on SIGTERM.
    """

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, frozen=True, extra="forbid", allow_inf_nan=False
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    config: Path | None = None
    max_body_bytes: Annotated[int, Field(gt=0)] = 6 * 1024 * 1024
    start_budget: Annotated[int, Field(ge=1)] = 4
    log_format: Literal["text", "json"] = "text"
    log_level: Annotated[
        str,
        AfterValidator(_log_level),
        _Expect("a logging level name (CRITICAL, ERROR, WARNING, INFO or DEBUG)"),
    ] = "INFO"
    janitor_interval: Annotated[float, Field(gt=0)] = 1.0
    # Below 4 KiB a traceback would be cut before it says anything useful.
    log_capture_bytes: Annotated[int, Field(ge=4096)] = 64 * 1024
    shutdown_grace: Annotated[float, Field(ge=0)] = 10.0


# The file's tables are strict: TOML has real types, so a quoted number is a mistake to report,
# not to coerce (unlike environment variables, which are always strings).
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)
_FILE_SETTINGS = (
    "max_body_bytes",
    "start_budget",
    "log_format",
    "log_level",
    "janitor_interval",
    "log_capture_bytes",
    "shutdown_grace",
)
# Built from Settings' own fields so the file and the environment share one set of limits.
_GatewayTable = create_model(  # type: ignore[call-overload]
    "_GatewayTable",
    __config__=_STRICT,
    **{
        name: (Settings.model_fields[name].annotation, Settings.model_fields[name])
        for name in _FILE_SETTINGS
    },
)
_SCALING_DEFAULTS = ScalingConfig()
_ENTITY_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclass_fields(FunctionEntity)}
_HANDLER = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"


def _http_method(value: str) -> str:
    method = value.upper()
    if method not in HTTP_METHODS:
        raise ValueError("")  # empty: the field's _Expect already says it all
    return method


def _route_path(value: str) -> str:
    Route("ANY", value, "_")  # the domain's own path rules, raising ValueError with the reason
    return value


# These mirror the domain models' checks so that a bad value is reported with its key and
# the expected range; the domain's __post_init__ stays the last line of defence.
class _ScalingTable(BaseModel):
    model_config = _STRICT

    min_warm: int = Field(default=_SCALING_DEFAULTS.min_warm, ge=0)
    max_capacity: int = Field(default=_SCALING_DEFAULTS.max_capacity, ge=1)
    max_queue: int = Field(default=_SCALING_DEFAULTS.max_queue, ge=0)
    idle_ttl: float = Field(default=_SCALING_DEFAULTS.idle_ttl, gt=0)


class _FunctionTable(BaseModel):
    model_config = _STRICT

    handler: Annotated[
        str, Field(pattern=_HANDLER), _Expect("'module:attribute' (e.g. 'handlers:echo')")
    ]
    timeout: float = Field(default=_ENTITY_DEFAULTS["timeout_seconds"], gt=0, le=900)
    memory_size: int = Field(default=_ENTITY_DEFAULTS["memory_size_mb"], ge=128, le=10240)
    environment: dict[str, str] = Field(default_factory=dict)
    code_dir: str | None = None
    scaling: _ScalingTable = _ScalingTable()  # frozen, so sharing the default is safe


class _RouteTable(BaseModel):
    model_config = _STRICT

    method: Annotated[
        str, AfterValidator(_http_method), _Expect("one of " + ", ".join(sorted(HTTP_METHODS)))
    ]
    path: Annotated[
        str, AfterValidator(_route_path), _Expect("a path like '/hello/{name}' or '/files/{path+}'")
    ]
    function: str
    payload_format: Literal["1.0", "2.0"] = "2.0"


class _FileTable(BaseModel):
    """Only the shape of the top level; each function and route is validated on its own."""

    model_config = _STRICT

    gateway: dict[str, Any] = Field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[dict[str, Any]] = Field(default_factory=list)


class _Problem(NamedTuple):
    key: str
    message: str


class _Problems(list[_Problem]):
    """Every problem found so far; loading goes on after one so the user sees them all."""

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        self.append(_Problem(_dotted(loc), message))


_Loc = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)
_HINTS = {
    f"gateway.{name}": f"is not read from the file; use --{name} or {_ENV_PREFIX}{name.upper()}"
    for name in ("host", "port", "config")
}


def _dotted(loc: Iterable[str | int]) -> str:
    """``("routes", 2, "function")`` -> ``routes[2].function``, quoting keys TOML would."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            text = part if _BARE_KEY.match(part) else json.dumps(part)
            key = f"{key}.{text}" if key else text
    return key


def _describe(annotation: Any, metadata: Iterable[object]) -> str:
    """What a field expects, in words: ``an integer ≥ 1``, ``one of 'text', 'json'``."""
    metadata = list(metadata)
    for item in metadata:
        if isinstance(item, _Expect):
            return item.text
    if get_origin(annotation) is types.UnionType:  # X | None: None only means "optional"
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    origin = get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(repr(a) for a in get_args(annotation))
    elif origin is dict:
        text = "a table of strings" if get_args(annotation)[1] is str else "a table"
    elif origin is list:
        text = "an array of tables"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        text = "a table"
    else:
        names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
        text = names.get(annotation, "a path" if annotation is Path else str(annotation))
    bounds = [
        f"{symbol} {getattr(item, attr)}"
        for item in metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(item, kind)
    ]
    return f"{text} {' and '.join(bounds)}" if bounds else text


def _found(value: object, *, secret: bool) -> str:
    """What was found; for secrets only its kind, never the value."""
    kinds = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (dict, "a table"),
        (list, "an array"),
    ]
    kind = next((name for cls, name in kinds if isinstance(value, cls)), "a date/time")
    if secret or isinstance(value, dict | list):
        return kind
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _translate(exc: ValidationError, model: type[BaseModel], prefix: _Loc) -> list[_Problem]:
    """Pydantic's errors, re-worded as "key: expected X, got Y"."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        full = prefix + loc
        key = _dotted(full)
        secret = full[:1] == ("functions",) and full[2:3] == ("environment",)
        # Walk the models along the error's location to the field it is about.
        owner: type[BaseModel] | None = None
        annotation: Any = model
        metadata: list[object] = []
        for part in loc:
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                owner, field = annotation, annotation.model_fields.get(str(part))
                if field is None:
                    break
                annotation, metadata = field.annotation, list(field.metadata)
            else:  # a dict value or list item: its type is the container's last argument
                annotation, metadata = get_args(annotation)[-1], []
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(owner.model_fields) if owner else "none"
            message = _HINTS.get(key, f"unknown key (expected one of: {allowed})")
        elif error["type"] == "missing":
            message = f"missing (expected {_describe(annotation, metadata)})"
        else:
            expected = _describe(annotation, metadata)
            message = f"expected {expected}, got {_found(error['input'], secret=secret)}"
            if detail := str(error.get("ctx", {}).get("error", "")):  # our validators' reasons
                message += f" ({detail})"
            if secret and expected == "a string":
                message += " (environment values must be strings: quote the value)"
        problems.append(_Problem(key, message))
    return problems


def _check(model: type[_M], raw: object, prefix: _Loc, problems: _Problems) -> _M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_translate(exc, model, prefix))
        return None


def _fail(path: Path, problems: list[_Problem], **fields: Any) -> NoReturn:
    if len(problems) == 1:
        message = f"{path}: {problems[0].key}: {problems[0].message}"
    else:
        lines = "".join(f"\n  - {p.key}: {p.message}" for p in problems)
        message = f"{path}: {len(problems)} problems:{lines}"
    keys = tuple(p.key for p in problems)
    raise ConfigError(message, key=keys[0], keys=keys, file=str(path), **fields)


_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")
_HEADER = re.compile(r"^\s*(\[\[?)([^\]]+)\]")
_ASSIGN = re.compile(
    r"^\s*((?:[\w-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[\w-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)
_KEY_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([\w-]+)")


def _key_parts(text: str) -> list[str | int]:
    return [next(g for g in m.groups() if g is not None) for m in _KEY_PART.finditer(text)]


def _key_at(text: str, line: int) -> str | None:
    """Best guess at the dotted key on ``line``, so a syntax error names a key too."""
    table: list[str | int] = []
    arrays: dict[str, int] = {}
    for number, content in enumerate(text.split("\n")[:line], start=1):
        if header := _HEADER.match(content):
            table = _key_parts(header[2])
            if header[1] == "[[":  # each [[routes]] is the next item of the array
                arrays[header[2]] = arrays.get(header[2], -1) + 1
                table.append(arrays[header[2]])
        elif number == line and (assign := _ASSIGN.match(content)):
            return _dotted([*table, *_key_parts(assign[1])])
    return _dotted(table) or None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (looked for {path.absolute()})",
            key="config",
            file=str(path),
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file: {exc.strerror or exc}",
            key="config",
            file=str(path),
        ) from exc
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not valid UTF-8 (byte {exc.start}); TOML files must be UTF-8",
            key="config",
            file=str(path),
            line=line,
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's error carries its position only in the message.
        position = _TOML_POSITION.search(str(exc))
        reason = _TOML_POSITION.sub("", str(exc))
        line = int(position[1]) if position and position[1] else text.count("\n") + 1
        column = int(position[2]) if position and position[2] else 1
        key = _key_at(text, line) or "config"
        # The line itself is not quoted: it may hold a secret environment value.
        raise ConfigError(
            f"{path}:{line}:{column}: TOML syntax error at {key}: {reason}",
            key=key,
            file=str(path),
            line=line,
            column=column,
        ) from None


def _build_function(
    name: str, raw: Mapping[str, Any], base: Path, problems: _Problems
) -> FunctionEntity | None:
    prefix: _Loc = ("functions", name)
    before = len(problems)
    if not FUNCTION_NAME_PATTERN.match(name):
        problems.add(prefix, f"expected a name of 1-64 letters, digits, '-' or '_', got {name!r}")
    table = _check(_FunctionTable, raw, prefix, problems)
    if table is None:
        return None
    scaling = table.scaling
    if scaling.min_warm > scaling.max_capacity:
        problems.add(
            (*prefix, "scaling", "min_warm"),
            f"expected an integer ≤ max_capacity ({scaling.max_capacity}), got {scaling.min_warm}",
        )
    code_dir = base
    if table.code_dir is not None:
        code_dir = (base / Path(table.code_dir).expanduser()).resolve()
        if not code_dir.is_dir():
            state = "is not a folder" if code_dir.exists() else "does not exist"
            problems.add(
                (*prefix, "code_dir"),
                f"expected an existing folder, got {table.code_dir!r} ({code_dir} {state})",
            )
    if len(problems) > before:
        return None
    try:
        return FunctionEntity(
            name=name,
            handler=table.handler,
            code_dir=code_dir,
            timeout_seconds=table.timeout,
            memory_size_mb=table.memory_size,
            environment=table.environment,
            scaling=ScalingConfig(**scaling.model_dump()),
        )
    except ValueError as exc:  # a domain rule the tables above do not mirror yet
        problems.add(prefix, str(exc))
        return None


# Routes that differ only in parameter names match the same requests.
_PARAM_NAME = re.compile(r"\{[^/}]*?(\+?)\}")


def _build_routes(raw: list[Any], declared: set[str], problems: _Problems) -> list[Route]:
    routes: list[Route] = []
    seen: dict[tuple[str, str], tuple[int, Route]] = {}
    for index, item in enumerate(raw):
        prefix: _Loc = ("routes", index)
        table = _check(_RouteTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:  # a non-table item was already reported by _FileTable
            continue
        if table.function not in declared:
            problems.add(
                (*prefix, "function"),
                f"expected a declared function ({', '.join(sorted(declared)) or 'none declared'}), "
                f"got {table.function!r}",
            )
        try:
            route = Route(table.method, table.path, table.function, table.payload_format)
        except ValueError as exc:
            problems.add((*prefix, "path"), f"invalid path: {exc}")
            continue
        shape = (route.method, _PARAM_NAME.sub(r"{\1}", route.path))
        first_index, first = seen.setdefault(shape, (index, route))
        if first_index != index:
            problems.add(
                prefix,
                f"{route.route_key!r} duplicates routes[{first_index}] ({first.route_key!r})",
            )
            continue
        routes.append(route)
    return routes


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
    data = _read_toml(path)
    problems = _Problems()
    _check(_FileTable, data, (), problems)
    gateway: dict[str, Any] = {}
    if isinstance(raw_gateway := data.get("gateway", {}), dict):
        table = _check(_GatewayTable, raw_gateway, ("gateway",), problems)
        gateway = table.model_dump(exclude_unset=True) if table is not None else {}
    raw_functions = data.get("functions", {})
    raw_functions = raw_functions if isinstance(raw_functions, dict) else {}
    base = path.parent.resolve()
    functions: dict[str, FunctionEntity] = {}
    for name, raw in raw_functions.items():
        if isinstance(raw, dict) and (entity := _build_function(name, raw, base, problems)):
            functions[name] = entity
    raw_routes = data.get("routes", [])
    # Declared but invalid functions count as declared: their own errors are enough.
    routes = _build_routes(
        raw_routes if isinstance(raw_routes, list) else [], set(raw_functions), problems
    )
    if problems:
        _fail(path, problems)
    try:
        return GatewayConfig(functions=functions, routes=tuple(routes)), gateway
    except ValueError as exc:
        _fail(path, [_Problem("routes", str(exc))])


def load_settings(
    config_path: Path | None = None, **overrides: Any
) -> tuple[Settings, GatewayConfig]:
    """Settings and the gateway's functions and routes.

    Args:
        config_path: The ``lockgate.toml``; when None, ``config`` from the overrides or
            ``LOCKGATE_CONFIG``; when there is none either, no functions are declared.
        overrides: Settings fields given explicitly (CLI flags); None means "not given".

    Returns:
        The settings (overrides > environment > ``[gateway]`` table > defaults) and the config.

    Raises:
        ConfigError: The file or any setting is invalid; ``fields["key"]`` names the field
            and ``fields["env"]`` the environment variable when the value came from one.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    from_env = EnvSettingsSource(Settings)()
    chosen = config_path if config_path is not None else given.get("config")
    if chosen is None and from_env.get("config"):
        chosen = from_env["config"]
    path = Path(chosen) if chosen is not None else None
    gateway, from_file = load_config(path) if path is not None else (GatewayConfig(), {})
    try:
        # Passed as init values, which pydantic-settings ranks above the environment.
        settings = Settings(**{**from_file, **from_env, **given, "config": path})
    except ValidationError as exc:
        problems: list[_Problem] = []
        envs: list[str | None] = []
        for problem in _translate(exc, Settings, ()):
            env = None
            if problem.key in given:
                source = "given explicitly"
            elif problem.key in from_env:
                env = f"{_ENV_PREFIX}{problem.key.upper()}"
                source = f"from environment variable {env}"
            else:
                source = f"from gateway.{problem.key} in {path}"
            problems.append(_Problem(f"{problem.key} ({source})", problem.message))
            envs.append(env)
        lines = "".join(f"\n  - {p.key}: {p.message}" for p in problems)
        keys = tuple(p.key.partition(" ")[0] for p in problems)
        raise ConfigError(
            f"invalid settings:{lines}", key=keys[0], keys=keys, env=envs[0]
        ) from None
    return settings, gateway
