"""Structured logs: one JSON object per line, carrying the request id; no line carries a
secret value the gateway has decrypted."""

from __future__ import annotations

import json
import logging
from typing import Literal

import pytest

from lockgate.controllers.log_setup import configure_logging, request_id_var
from lockgate.models.log_context import run_id_var
from lockgate.use_cases.secrets.redaction import REVEALED


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


def test_json_logs_leave_out_uvicorns_terminal_colours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """uvicorn logs each line twice, plain and as ``color_message`` with ANSI escapes: a JSON
    line keeps the plain one only."""
    configure_logging("json", "INFO")
    try:
        logging.getLogger("lockgate.test").info(
            "Started server process [%d]",
            7,
            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
        )
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == "Started server process [7]"
    assert "color_message" not in entry
    assert "\x1b" not in line
    assert "\\u001b" not in line


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


TOKEN = "tok-log-5b7d9e1f3a"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_decrypted_secret_values_never_reach_a_log_line(
    capsys: pytest.CaptureFixture[str], log_format: Literal["json", "text"]
) -> None:
    configure_logging(log_format, "INFO")
    log = logging.getLogger("lockgate.test")
    try:
        log.info("before any secret was read: %s", TOKEN)
        REVEALED.add({"user": "svc", "token": TOKEN})
        log.info("upstream echoed %s", {"Authorization": f"Bearer {TOKEN}"})
        log.warning("as the message itself: " + TOKEN, extra={"detail": f"x{TOKEN}x"})
        try:
            raise RuntimeError(f"refused {TOKEN}")
        except RuntimeError:
            log.exception("a step failed")
        log.info("user %s logged in", "svc")
    finally:
        REVEALED.clear()
        logging.getLogger().handlers.clear()
    lines = capsys.readouterr().err.strip().splitlines()
    assert TOKEN in lines[0]  # nothing decrypted yet: nothing to hide
    after = "\n".join(lines[1:])
    assert TOKEN not in after
    assert "Bearer ***" in after
    assert "as the message itself: ***" in after
    assert "RuntimeError: refused ***" in after
    assert "user svc logged in" in after  # a user name is not a secret
    if log_format == "json":
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        assert entries[2]["detail"] == "x***x"
        assert "refused ***" in entries[3]["exception"]


def test_lines_logged_during_a_workflow_run_name_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inside a run (no request), text shows ``[run ID]`` and JSON a ``run_id`` field;
    outside both, JSON carries neither id rather than a placeholder."""
    configure_logging("json", "INFO")
    token = run_id_var.set("run-7")
    try:
        logging.getLogger("lockgate.test").info("step done")
    finally:
        run_id_var.reset(token)
    logging.getLogger("lockgate.test").info("idle")
    configure_logging("text", "INFO")
    token = run_id_var.set("run-7")
    try:
        logging.getLogger("lockgate.test").info("step done")
    finally:
        run_id_var.reset(token)
        logging.getLogger().handlers.clear()
    lines = capsys.readouterr().err.strip().splitlines()
    in_run, idle = json.loads(lines[-3]), json.loads(lines[-2])
    assert in_run["run_id"] == "run-7"
    assert "request_id" not in in_run
    assert "run_id" not in idle
    assert "request_id" not in idle
    assert lines[-1].endswith("lockgate.test [run run-7]: step done")


def test_json_extra_fields_never_replace_the_lines_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "INFO")
    try:
        logging.getLogger("lockgate.test").info("hello", extra={"time": "later", "level": 3})
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["time"].endswith("Z")
    assert entry["extra_time"] == "later"
    assert entry["extra_level"] == 3
