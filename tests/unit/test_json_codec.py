"""The run store's JSON refuses what would not come back the same."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from lockgate import json_codec


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({1, 2}, "'set'"),
        (datetime.datetime(2024, 1, 15, tzinfo=datetime.UTC), "'datetime'"),
        (Point(1), "'Point'"),
        (b"bytes", "'bytes'"),
        ({1: "int key"}, "str"),
        ({"a": [1.0, float("nan")]}, "NaN"),
        ([float("inf")], "NaN and infinite"),
    ],
)
def test_values_that_would_not_round_trip_are_refused(value: Any, named: str) -> None:
    with pytest.raises(TypeError, match=named):
        json_codec.dumps(value)


def test_json_values_round_trip_and_keys_sort_on_request() -> None:
    value = {"b": [1, 2.5, None, True, "ü"], "a": {"nested": None}}
    assert json_codec.loads(json_codec.dumps(value)) == value
    assert json_codec.dumps(value, sort_keys=True).startswith(b'{"a":')


def test_dict_and_list_subclasses_are_written_as_the_plain_values_they_equal() -> None:
    class Body(dict[str, Any]):
        pass

    class Rows(list[Any]):
        pass

    value = {"body": Body(a=Rows([1, Body(b=2)]))}
    assert json_codec.loads(json_codec.dumps(value)) == {"body": {"a": [1, {"b": 2}]}}
