"""IAM policies as Lambda authorizers return them, evaluated against a request's
``routeArn`` / ``methodArn`` with IAM's rules: an explicit ``Deny`` that matches wins, else a
matching ``Allow`` is needed, else the request is denied. ``*`` matches any run of
characters (``/`` included) and ``?`` any one character."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["Policy", "Statement", "parse_policy"]

_INVOKE_ACTION = "execute-api:invoke"
_MAX_STATEMENTS = 100


def _pattern(text: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


class Statement(NamedTuple):
    allow: bool
    resources: tuple[re.Pattern[str], ...]

    def matches(self, arn: str) -> bool:
        return any(resource.fullmatch(arn) for resource in self.resources)


class Policy(NamedTuple):
    """The statements that concern ``execute-api:Invoke``; others are left out."""

    statements: tuple[Statement, ...]

    def allows(self, arn: str) -> bool:
        """Whether the policy lets a request for ``arn`` through."""
        allowed = False
        for statement in self.statements:
            if statement.matches(arn):
                if not statement.allow:
                    return False  # an explicit Deny wins, whatever allows it
                allowed = True
        return allowed


def _strings(value: Any, key: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"Statement {key} must be a string or an array of strings")
    return items


def parse_policy(document: Any) -> Policy:
    """The policy in a ``policyDocument``.

    Raises:
        ValueError: It is not one (no ``Statement``, a bad ``Effect``, a statement using
            keys this evaluation does not support); the message says what.
    """
    if not isinstance(document, Mapping):
        raise ValueError("policyDocument must be an object")
    raw = document.get("Statement")
    raw_statements = raw if isinstance(raw, list) else [raw]
    if raw is None or len(raw_statements) > _MAX_STATEMENTS:
        raise ValueError(f"policyDocument needs 1 to {_MAX_STATEMENTS} statements")
    statements = []
    for item in raw_statements:
        if not isinstance(item, Mapping):
            raise ValueError("each Statement must be an object")
        unsupported = set(item) - {"Effect", "Action", "Resource", "Sid"}
        if unsupported:
            raise ValueError(f"Statement keys {', '.join(sorted(unsupported))} are not supported")
        effect = item.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError("Statement Effect must be 'Allow' or 'Deny'")
        actions = [_pattern(a, ignore_case=True) for a in _strings(item.get("Action"), "Action")]
        if not any(action.fullmatch(_INVOKE_ACTION) for action in actions):
            continue  # about something else than invoking: it neither allows nor denies
        resources = tuple(_pattern(r) for r in _strings(item.get("Resource"), "Resource"))
        statements.append(Statement(effect == "Allow", resources))
    return Policy(tuple(statements))
