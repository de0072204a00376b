"""Collecting configuration problems and wording them for people.

A loader keeps going after a bad value so the user sees every problem at once: each becomes a
:class:`Problem` (a dotted key such as ``functions.echo.scaling.max_capacity`` or
``routes[2].function`` and a message like ``expected an integer ≥ 1, got 0``), and :func:`fail`
turns them all into one :class:`ConfigError`. :func:`check` re-words pydantic's validation
errors, :func:`settings_error` also says where each bad setting came from, and
:func:`read_toml` reports unreadable files and TOML syntax errors with their line, column and
best-guess key. Values under ``functions.<name>.environment`` may be secrets: messages give
their kind, never their value.
"""

from __future__ import annotations

import json
import re
import tomllib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, NoReturn, TypeVar, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError

from lockgate.errors import ConfigError

__all__ = ["Expect", "Loc", "Problem", "Problems", "check", "fail", "read_toml", "settings_error"]

Loc = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Expect:
    """``Annotated`` marker: how to say what a field expects when types alone can't."""

    text: str


class Problem(NamedTuple):
    key: str
    message: str


class Problems(list[Problem]):
    """Every problem found so far; loading goes on after one so the user sees them all."""

    def add(self, loc: Loc, message: str) -> None:
        self.append(Problem(_dotted(loc), message))


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)


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
        if isinstance(item, Expect):
            return item.text
    if get_origin(annotation) is types.UnionType:  # X | None: None only means "optional"
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    origin = get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(repr(a) for a in get_args(annotation))
    elif origin is dict:
        text = "a table of strings" if get_args(annotation)[1] is str else "a table"
    elif origin is list:
        text = "an array of strings" if get_args(annotation) == (str,) else "an array of tables"
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


def _translate(
    exc: ValidationError,
    model: type[BaseModel],
    prefix: Loc,
    *,
    hints: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Pydantic's errors, re-worded as "key: expected X, got Y".

    ``hints`` replaces the "unknown key" message for the dotted keys it names.
    """
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        full = prefix + loc
        key = _dotted(full)
        # A collector's URL may carry credentials (user:password@, a token in its query).
        secret = (
            (full[:1] == ("functions",) and full[2:3] == ("environment",))
            or full[-1:] == ("admin_token",)
            or full == ("tracing", "endpoint")
        )
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
            message = (hints or {}).get(key, f"unknown key (expected one of: {allowed})")
        elif error["type"] == "missing":
            message = f"missing (expected {_describe(annotation, metadata)})"
        else:
            expected = _describe(annotation, metadata)
            message = f"expected {expected}, got {_found(error['input'], secret=secret)}"
            if detail := str(error.get("ctx", {}).get("error", "")):  # our validators' reasons
                message += f" ({detail})"
            if secret and expected == "a string":
                message += " (environment values must be strings: quote the value)"
        problems.append(Problem(key, message))
    return problems


def check(
    model: type[_M],
    raw: object,
    prefix: Loc,
    problems: Problems,
    *,
    hints: Mapping[str, str] | None = None,
) -> _M | None:
    """``raw`` validated as ``model``, or None after adding its problems to ``problems``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_translate(exc, model, prefix, hints=hints))
        return None


def fail(path: Path, problems: list[Problem], **fields: Any) -> NoReturn:
    """Raise one :class:`ConfigError` listing every problem with ``path``."""
    if len(problems) == 1:
        message = f"{path}: {problems[0].key}: {problems[0].message}"
    else:
        lines = "".join(f"\n  - {p.key}: {p.message}" for p in problems)
        message = f"{path}: {len(problems)} problems:{lines}"
    keys = tuple(p.key for p in problems)
    raise ConfigError(message, key=keys[0], keys=keys, file=str(path), **fields)


def settings_error(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    given: Mapping[str, Any],
    from_env: Mapping[str, Any],
    path: Path | None,
    env_prefix: str,
) -> ConfigError:
    """One :class:`ConfigError` for invalid settings, saying where each bad value came from.

    Args:
        exc, model: The failed validation and the settings model it ran on.
        given, from_env: The values given explicitly and those read from ``env_prefix``
            environment variables; any other value came from ``path``'s ``[gateway]`` table.
    """
    problems: list[Problem] = []
    envs: list[str | None] = []
    for problem in _translate(exc, model, ()):
        env = None
        if problem.key in given:
            source = "given explicitly"
        elif problem.key in from_env:
            env = f"{env_prefix}{problem.key.upper()}"
            source = f"from environment variable {env}"
        else:
            source = f"from gateway.{problem.key} in {path}"
        problems.append(Problem(f"{problem.key} ({source})", problem.message))
        envs.append(env)
    lines = "".join(f"\n  - {p.key}: {p.message}" for p in problems)
    keys = tuple(p.key.partition(" ")[0] for p in problems)
    return ConfigError(f"invalid settings:{lines}", key=keys[0], keys=keys, env=envs[0])


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


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; a missing, unreadable, non-UTF-8 or malformed one raises ConfigError."""
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
