"""The examples of ``docs/security.md`` run as written: every ``toml`` block is a
``lockgate.toml`` the loader accepts, every ``sh`` block's commands succeed, in order, in a
folder with a run store and a master key, as an operator would run them, and the boto3
example invokes a function through a gateway that checks its signature."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lockgate.config.settings import load_config
from tests.e2e.access_support import clean_env
from tests.e2e.gateway_process import GatewayProcess

PAGE = Path(__file__).parents[2] / "docs" / "security.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for language, body in BLOCK.findall(PAGE.read_text()) if language == kind]


def lockgate(
    argv: list[str], folder: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``lockgate ARGV`` run in ``folder``, as an operator at a shell would."""
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=folder,
        env=env,
    )


def test_the_page_has_its_examples() -> None:
    assert len(blocks("toml")) >= 8
    assert len(blocks("sh")) >= 2


@pytest.mark.parametrize("number", range(len(blocks("toml"))))
def test_each_toml_example_loads(number: int, tmp_path: Path) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_text(blocks("toml")[number])
    load_config(path)  # raises ConfigError naming the key at fault


def test_the_shell_examples_run_in_order(tmp_path: Path) -> None:
    env = {**clean_env(), "LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path / 'runs.sqlite3'}"}
    # What the page assumes is there: a master key and a secret under it.
    made = lockgate(["secrets", "init-key", "--key-file", "master.key"], tmp_path, env)
    assert made.returncode == 0, made.stderr
    stored = lockgate(
        ["secrets", "set", "api", "--key-file", "master.key"], tmp_path, env, "s3cret-value"
    )
    assert stored.returncode == 0, stored.stderr
    for block in blocks("sh"):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            assert argv[0] == "lockgate", line
            ran = lockgate(argv[1:], tmp_path, env)
            assert ran.returncode == 0, f"{line}: {ran.stderr}"


def test_the_boto3_example_invokes_through_sigv4(tmp_path: Path) -> None:
    """The SigV4 section's TOML and Python, together, against a real gateway."""
    [aws_config] = [block for block in blocks("toml") if "[aws_credentials." in block]
    [python] = blocks("python")
    (tmp_path / "lockgate.toml").write_text(aws_config)
    (tmp_path / "handlers.py").write_text("def echo(event, context):\n    return event\n")
    secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    env = {**clean_env(), "LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path / 'runs.sqlite3'}"}
    key_file = tmp_path / "master.key"
    for argv, stdin in (
        (["secrets", "init-key", "--key-file", str(key_file)], ""),
        (["secrets", "set", "ci_aws_secret", "--key-file", str(key_file)], secret_key),
    ):
        done = lockgate(argv, tmp_path, env, stdin)
        assert done.returncode == 0, done.stderr
    gateway_env = {"LOCKGATE_RUN_STORE": env["LOCKGATE_RUN_STORE"]}
    gateway_env["LOCKGATE_MASTER_KEY_FILE"] = str(key_file)
    with GatewayProcess(tmp_path / "lockgate.toml", env=gateway_env) as gateway:
        code = python.replace("https://gateway.example.com", gateway.url)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code, {"secret_key": secret_key})
    assert printed.getvalue().strip() == "200"
