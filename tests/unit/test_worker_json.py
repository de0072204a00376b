"""The worker's JSON keeps the standard library's semantics whichever encoder runs."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import threading
import time

import pytest

from lockgate.worker import fastjson


def _default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@dataclasses.dataclass
class Point:
    x: int


def _upgraded() -> None:
    fastjson.upgrade_in_background()
    deadline = time.monotonic() + 10
    while not fastjson._ORJSON:
        assert time.monotonic() < deadline, "orjson never loaded"
        time.sleep(0.01)
    assert not [t for t in threading.enumerate() if t.name == "lockgate-orjson" and t.is_alive()]


@pytest.mark.parametrize("upgrade", [False, True])
def test_results_encode_as_json_dumps_decides(
    upgrade: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastjson, "_ORJSON", False)
    if upgrade:
        _upgraded()
    assert fastjson.loads(fastjson.dumps_result({"a": [1, "x", None]}, _default)) == {
        "a": [1, "x", None]
    }
    # json.dumps turns int keys into strings; orjson would refuse them.
    assert fastjson.loads(fastjson.dumps_result({1: "one"}, _default)) == {"1": "one"}
    assert fastjson.loads(fastjson.dumps_result(decimal.Decimal("1.5"), _default)) == 1.5
    for refused in (datetime.datetime(2026, 1, 1), Point(1), object()):
        with pytest.raises(TypeError, match="not JSON serializable"):
            fastjson.dumps_result(refused, _default)
    with pytest.raises(ValueError, match="line 1 column 1"):
        fastjson.loads(b"not json")
