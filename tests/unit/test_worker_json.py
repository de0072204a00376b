"""The worker's frame JSON works the same before and after orjson has loaded."""

from __future__ import annotations

import time

import pytest

from lockgate.worker import fastjson


def _upgraded() -> None:
    fastjson.upgrade_in_background()
    deadline = time.monotonic() + 10
    while not fastjson._ORJSON:
        assert time.monotonic() < deadline, "orjson never loaded"
        time.sleep(0.01)


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
