"""Request ids look like AWS's (UUID version 4) and do not repeat."""

from __future__ import annotations

import uuid

from lockgate.models.ids import new_request_id


def test_request_ids_are_canonical_version_4_uuids() -> None:
    for _ in range(2000):
        request_id = new_request_id()
        parsed = uuid.UUID(request_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == request_id


def test_request_ids_do_not_repeat() -> None:
    ids = {new_request_id() for _ in range(100_000)}
    assert len(ids) == 100_000
