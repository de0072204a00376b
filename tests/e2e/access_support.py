"""What the access and browser end-to-end tests share: a config serving the e2e app's code,
the CLI as a process, tokens made with it, and the gateway's error shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from tests.e2e.gateway_process import APP_DIR

__all__ = ["REMOTE", "clean_env", "config", "error", "lockgate", "make_token"]

REMOTE = "127.0.0.2"  # another machine, as far as the gateway can tell


def config(folder: Path, extra: str = "") -> Path:
    """A lockgate.toml in ``folder`` serving the e2e app's code (functions, a route and two
    workflows), with ``extra`` tables."""
    path = folder / "lockgate.toml"
    code = json.dumps(str(APP_DIR))
    path.write_text(
        textwrap.dedent(
            f"""
            [gateway]
            shutdown_grace = 2

            [functions.echo]
            handler = "handlers:echo"
            code_dir = {code}

            [functions.pid]
            handler = "handlers:pid"
            code_dir = {code}

            [functions.cors_echo]
            handler = "handlers:cors_echo"
            code_dir = {code}

            [[routes]]
            method = "GET"
            path = "/echo/{{name}}"
            function = "echo"

            [workflows.pipeline]
            builder = "workflows:build_pipeline"
            code_dir = {code}

            [workflows.slow]
            builder = "workflows:build_slow"
            code_dir = {code}
            """
        )
        + textwrap.dedent(extra)
    )
    return path


def lockgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean_env(), **env},
    )


def clean_env() -> dict[str, str]:
    """This environment without the developer's own LOCKGATE_* variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOCKGATE_")}


def make_token(name: str, scopes: list[str], env: dict[str, str]) -> str:
    argv = ["tokens", "create", name, *(arg for s in scopes for arg in ("--scope", s))]
    made = lockgate(*argv, env=env)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def error(response: httpx.Response, status: int, code: str) -> str:
    """The message of a gateway error of ``status`` and ``code``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message
