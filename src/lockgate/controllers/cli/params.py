"""Parsing ``lockgate run``'s ``--param k=v``, ``--params-json`` and ``--context k=v``.

Pure functions (no I/O), so the rules are unit-tested on their own; a malformed option raises
:class:`BadInputError` with a message that names the option and quotes what was given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

__all__ = [
    "BadInputError",
    "parse_assignment",
    "parse_assignments",
    "parse_context",
    "parse_parameters",
    "parse_params_json",
    "parse_value",
]


class BadInputError(Exception):
    """An option the user gave is malformed; ``message`` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_assignment(text: str, option: str = "--param") -> tuple[str, str]:
    """``"k=v"`` -> ``("k", "v")``; the value may be empty or hold more ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise BadInputError(f"{option} expects k=v, got {text!r}")
    return name.strip(), value


def parse_assignments(texts: Iterable[str], option: str) -> list[tuple[str, str]]:
    """Every ``k=v`` of a repeatable option, refusing a name given twice."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for text in texts:
        name, value = parse_assignment(text, option)
        if name in seen:
            raise BadInputError(f"{option} {name!r} is given more than once")
        seen.add(name)
        pairs.append((name, value))
    return pairs


def _reject_constant(name: str) -> NoReturn:
    # NaN and Infinity parse as floats that no JSON body can carry: keep them as text.
    raise ValueError(name)


def parse_value(raw: str, declared_type: str | None = None) -> Any:
    """A ``--param`` value: JSON if it parses (``5`` -> 5, ``true`` -> True, ``["a"]`` -> a
    list), the text itself otherwise; always the text for a parameter declared ``str`` (so
    ``zip=01234``, ``id=42`` or ``name=null`` stay strings there)."""
    if declared_type == "str":
        return raw
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        return raw


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def parse_params_json(params_json: str | None) -> dict[str, Any]:
    """``--params-json``: one JSON object (nothing given: no parameters)."""
    if params_json is None:
        return {}
    try:
        loaded = json.loads(params_json, parse_constant=_reject_constant)
    except ValueError as exc:
        # The text itself is not echoed: parameters may hold credentials, and stderr often
        # ends up in a CI log. The decoder's message says where it went wrong.
        raise BadInputError(f"--params-json is not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        found = _JSON_KINDS.get(type(loaded), type(loaded).__name__)
        raise BadInputError(f"--params-json expects a JSON object, got {found}")
    return loaded


def parse_parameters(
    params: Iterable[str],
    params_json: str | None = None,
    declared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A run's parameters: ``--params-json`` first, each ``--param k=v`` over it.

    Args:
        params: The ``--param`` texts.
        params_json: The ``--params-json`` text, if given.
        declared: The workflow's parameter declarations (``describe_workflow``'s
            ``"parameters"``: name -> ``{"type": ..., "required": ...}``); a ``--param`` of a
            parameter declared ``str`` keeps its raw text.

    Raises:
        BadInputError: A malformed ``--param`` or ``--params-json``.
    """
    parameters = parse_params_json(params_json)
    for name, raw in parse_assignments(params, "--param"):
        spec = (declared or {}).get(name)
        declared_type = spec.get("type") if isinstance(spec, Mapping) else None
        parameters[name] = parse_value(raw, declared_type)
    return parameters


def parse_context(texts: Iterable[str]) -> dict[str, str]:
    """``--context k=v`` variables; the values stay text, as in an environment."""
    return dict(parse_assignments(texts, "--context"))
