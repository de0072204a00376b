"""Collecting configuration problems and wording them for people.

A loader keeps going after a bad value so the user sees every problem at once: each becomes a
:class:`Problem` (a dotted key such as ``functions.echo.scaling.max_capacity`` or
``routes[2].function`` and a message like ``expected an integer ≥ 1, got 0``), and
:func:`report` turns them all into one :class:`ConfigError`. :func:`check` re-words pydantic's
validation errors, :func:`settings_problems` also says where each bad setting came from, and
:func:`did_you_mean` hints at the name a near miss was meant to be. Values under
``functions.<name>.environment`` (and the admin token) may be secrets: messages give their
kind, never their value.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, NoReturn, TypeVar, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError

from lockgate.errors import ConfigError

__all__ = [
    "Expect",
    "Loc",
    "Problem",
    "Problems",
    "check",
    "did_you_mean",
    "dotted",
    "fail",
    "report",
    "settings_problems",
]

Loc = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Expect:
    """``Annotated`` marker: how to say what a field expects when types alone can't."""

    text: str


class Problem(NamedTuple):
    """One thing wrong: the dotted key it is about, what is wrong, and (for TOML syntax
    errors) where in the file."""

    key: str
    message: str
    line: int | None = None
    column: int | None = None

    def text(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line is not None else ""
        return f"{self.key}{where}: {self.message}"


class Problems(list[Problem]):
    """Every problem found so far; loading goes on after one so the user sees them all."""

    def add(self, loc: Loc, message: str) -> None:
        self.append(Problem(dotted(loc), message))


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)


def did_you_mean(name: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'hello'?"`` when ``name`` is a near miss of one of ``choices``."""
    if not isinstance(name, str):
        return ""
    names = [str(choice) for choice in choices]
    close = (
        difflib.get_close_matches(name, names, n=1)
        or [c for c in names if c.lower() == name.lower()][:1]
    )
    return f"; did you mean {close[0]!r}?" if close and close[0] != name else ""


def dotted(loc: Iterable[str | int]) -> str:
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
        key = dotted(full)
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
            known = list(owner.model_fields) if owner else []
            near = did_you_mean(loc[-1], known)
            allowed = ", ".join(known) or "none"
            # A near miss says enough; otherwise the list shows what the table takes.
            listed = near or f" (expected one of: {allowed})"
            message = (hints or {}).get(key, f"unknown key{listed}")
        elif error["type"] == "missing":
            message = f"missing (expected {_describe(annotation, metadata)})"
        else:
            expected = _describe(annotation, metadata)
            message = f"expected {expected}, got {_found(error['input'], secret=secret)}"
            if detail := str(error.get("ctx", {}).get("error", "")):  # our validators' reasons
                message += f" ({detail})"
            if error["type"] == "literal_error" and not secret:
                message += did_you_mean(error["input"], get_args(annotation))
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


# What settings_problems adds to a key: where the value came from.
_SOURCE = re.compile(r" \((?:given explicitly|from [^()]*)\)$")


def report(path: Path | None, problems: list[Problem], **fields: Any) -> ConfigError:
    """One :class:`ConfigError` listing every problem (with ``path``, the file's)."""
    where = str(path) if path is not None else "invalid settings"
    if len(problems) == 1:
        only = problems[0]
        at = f"{only.line}:{only.column}:" if only.line is not None else ""
        message = f"{where}:{at} {only.key}: {only.message}"
    else:
        lines = "".join(f"\n  - {p.text()}" for p in problems)
        message = f"{where}: {len(problems)} problems:{lines}"
    keys = tuple(_SOURCE.sub("", p.key) for p in problems)
    located = next((p for p in problems if p.line is not None), None)
    if located is not None:
        fields.setdefault("line", located.line)
        fields.setdefault("column", located.column)
    if path is not None:
        fields.setdefault("file", str(path))
    listed = tuple(
        {"key": key, "message": p.message, "line": p.line, "column": p.column}
        for key, p in zip(keys, problems, strict=True)
    )
    return ConfigError(message, key=keys[0], keys=keys, problems=listed, **fields)


def fail(path: Path, problems: list[Problem], **fields: Any) -> NoReturn:
    """Raise one :class:`ConfigError` listing every problem with ``path``."""
    raise report(path, problems, **fields)


def settings_problems(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    given: Mapping[str, Any],
    from_env: Mapping[str, Any],
    path: Path | None,
    env_prefix: str,
) -> tuple[list[Problem], list[str | None]]:
    """Invalid settings as problems saying where each bad value came from, and the
    environment variable each came from (None for the others).

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
    return problems, envs
