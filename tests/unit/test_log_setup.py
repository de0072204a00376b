"""Structured logs: one JSON object per line, carrying the request id."""

from __future__ import annotations

import json
import logging

import pytest

from lockgate.controllers.log_setup import configure_logging, request_id_var


def test_json_logs_carry_the_request_id_and_extra_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("lockgate.test").info("invoked %s", "echo", extra={"function": "echo"})
    finally:
        request_id_var.reset(token)
        logging.getLogger().handlers.clear()
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["message"] == "invoked echo"
    assert entry["level"] == "info"
    assert entry["logger"] == "lockgate.test"
    assert entry["request_id"] == "req-42"
    assert entry["function"] == "echo"


def test_text_logs_name_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "WARNING")
    try:
        logging.getLogger("lockgate.test").warning("outside any request")
        logging.getLogger("lockgate.test").info("filtered out")
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "WARNING lockgate.test [-]: outside any request" in err
    assert "filtered out" not in err
