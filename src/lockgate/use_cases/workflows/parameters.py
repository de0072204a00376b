"""Checks a run's parameters against the workflow's declared ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate import json_codec
from lockgate.errors import InvalidParametersError
from lockgate.models.workflow import Workflow

__all__ = ["checked_parameters"]


def _check_type(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def checked_parameters(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters, with the declared defaults filled in.

    Raises:
        InvalidParametersError: Listing every problem: not JSON, unknown (when the workflow
            declares its parameters), missing or of the wrong type; names, never values.
    """
    if not isinstance(given, Mapping):
        raise InvalidParametersError("parameters must be an object of name -> value")
    parameters = dict(given)
    problems: list[str] = []
    try:
        json_codec.dumps(parameters)
    except TypeError as exc:
        problems.append(f"parameters must be JSON values: {exc}")
    declared = workflow.parameters
    if declared:
        for name in parameters:
            if name not in declared:
                problems.append(f"unknown parameter {name!r} (declared: {', '.join(declared)})")
        for spec in declared.values():
            if spec.name not in parameters:
                if spec.required:
                    problems.append(f"parameter {spec.name!r} is required")
                else:
                    parameters[spec.name] = spec.default
            elif spec.type is not None and not _check_type(parameters[spec.name], spec.type):
                found = type(parameters[spec.name]).__name__
                problems.append(
                    f"parameter {spec.name!r} must be {spec.type.__name__}, not {found}"
                )
    if problems:
        raise InvalidParametersError(
            f"workflow {workflow.name!r}: " + "; ".join(problems), problems=problems
        )
    return parameters
