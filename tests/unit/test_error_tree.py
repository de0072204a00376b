"""``lockgate.errors`` is one tree: its docstring draws every exception it defines, with its
parent, and the one table maps each to an HTTP status on purpose (through itself or an
ancestor below the root), so a new error cannot reach a client as an unplanned 500."""

from __future__ import annotations

import inspect
import re

import pytest

from lockgate import errors

DEFINED = [
    value
    for value in vars(errors).values()
    if inspect.isclass(value)
    and issubclass(value, errors.LockgateError)
    and value.__module__ == errors.__name__
]


def drawn_parents() -> dict[str, str]:
    """Each name the docstring draws, with the one it is drawn under (4 spaces a level)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = [(0, "LockgateError")]
    for indent, name in re.findall(r"^( *)[├└]── (\w+)", errors.__doc__ or "", re.MULTILINE):
        depth = len(indent) // 4 + 1
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_error_under_its_parent() -> None:
    parents = drawn_parents()
    for error in DEFINED:
        if error is errors.LockgateError:
            continue
        assert error.__name__ in parents, f"{error.__name__} is not drawn in the tree"
        parent = next(base for base in error.__mro__[1:] if issubclass(base, errors.LockgateError))
        assert parents[error.__name__] == parent.__name__, error.__name__
    assert set(parents) == {e.__name__ for e in DEFINED} - {"LockgateError"}


@pytest.mark.parametrize("error", DEFINED, ids=lambda error: error.__name__)
def test_every_error_has_a_planned_status(error: type[errors.LockgateError]) -> None:
    listed = set(errors._HTTP_STATUS)
    if error in (errors.LockgateError, errors.InvocationError):
        return  # the gateway's own fault (a backend it was built without): a 500 by design
    assert any(
        ancestor in listed for ancestor in error.__mro__ if ancestor is not errors.LockgateError
    ), f"{error.__name__} has no entry in the HTTP table"


def test_a_subclass_takes_its_own_status_wherever_the_table_lists_it() -> None:
    """The lookup walks the class hierarchy, not the table's order: a subclass listed after
    its base still answers with its own status, and an unlisted subclass with its base's."""

    class LateTimeout(errors.ResourceTimeoutError):
        pass

    assert errors.http_status(errors.ResourceUnavailableError("down")) == 503
    assert errors.http_status(errors.ResourceTimeoutError("slow")) == 504
    assert errors.http_status(LateTimeout("slow")) == 504
    assert errors.http_status(errors.ModuleDependencyError("undeclared")) == 403
    assert errors.http_status(errors.ModuleCallError("no such module")) == 404
    assert errors.http_status(errors.InvocationError("no backend")) == 500
