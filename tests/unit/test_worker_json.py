"""The worker's frame JSON works the same before and after orjson has loaded."""

from __future__ import annotations

import dataclasses
import datetime
import decimal

import pytest

from lockgate.worker import fastjson
from tests.support import wait_until


def _upgraded() -> None:
    fastjson.upgrade_in_background()
    wait_until(lambda: fastjson._ORJSON, 10, what="orjson loaded in the background")


@pytest.mark.parametrize("upgrade", [False, True])
def test_frames_round_trip_with_either_encoder(
    upgrade: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastjson, "_ORJSON", False)
    if upgrade:
        _upgraded()
    meta = {"type": "result", "error": None, "duration_ms": 0.25, "logs_dropped": 0}
    encoded = fastjson.dumps(meta)
    assert b" " not in encoded  # compact either way
    assert fastjson.loads(encoded) == meta
    assert fastjson.loads(bytearray(encoded)) == meta
    assert fastjson.loads(memoryview(encoded)) == meta
    with pytest.raises(ValueError, match="line 1 column 1"):
        fastjson.loads(b"not json")


def _default(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize("upgrade", [False, True])
def test_results_are_compact_and_keep_json_dumps_semantics(
    upgrade: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastjson, "_ORJSON", False)
    if upgrade:
        _upgraded()
    assert fastjson.dumps_result({"a": [1, "x", None]}, _default) == b'{"a":[1,"x",null]}'
    assert fastjson.dumps_result({1: "one"}, _default) == b'{"1":"one"}'  # json.dumps's rule
    assert fastjson.dumps_result(2**70, _default) == str(2**70).encode()
    assert fastjson.dumps_result(decimal.Decimal("1.5"), _default) == b"1.5"
    for refused in (datetime.datetime(2026, 1, 1), Point(1), object()):
        with pytest.raises(TypeError, match="not JSON serializable"):
            fastjson.dumps_result(refused, _default)
