"""What the live-gateway secrets tests share: a gateway folder (config, SQLite store, key
files), the CLI run in-process against it, an upstream that echoes requests back (as
httpbin's ``/anything`` does), and checks on the gateway's answers."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app
from lockgate.use_cases.secrets.master_key import MasterKey

__all__ = ["EchoServer", "Site", "echo_server", "never_500"]

_runner = CliRunner()


@dataclass
class Site:
    """A gateway's folder: its ``lockgate.toml``, its SQLite run store (where the secrets
    are) and its master key file."""

    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "lockgate.toml"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.folder / 'runs.sqlite3'}"

    @property
    def key_file(self) -> Path:
        return self.folder / "master.key"

    def store_files(self) -> list[Path]:
        """The SQLite database and what WAL mode keeps beside it."""
        return sorted(self.folder.glob("runs.sqlite3*"))

    def lockgate(self, *args: str, stdin: str | None = None) -> Result:
        """``lockgate ARGS`` in-process against this site; fails on a crash."""
        env: dict[str, Any] = {
            "LOCKGATE_MASTER_KEY": None,
            "LOCKGATE_MASTER_KEY_FILE": None,
            "LOCKGATE_CONFIG": str(self.config),
            "LOCKGATE_RUN_STORE": self.store_url,
        }
        result = _runner.invoke(app, list(args), input=stdin, env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"lockgate {' '.join(args)} raised") from result.exception
        return result

    def new_key(self, name: str) -> Path:
        path = self.folder / name
        result = self.lockgate("secrets", "init-key", "--key-file", str(path))
        assert result.exit_code == 0, result.output
        return path

    def set_secret(self, name: str, value: str, key: Path, *options: str) -> None:
        result = self.lockgate(
            "secrets", "set", name, "--key-file", str(key), *options, stdin=value
        )
        assert result.exit_code == 0, result.output

    def rotate(self, old: Path, new: Path, *extra: str) -> Result:
        result = self.lockgate(
            "secrets", "rotate", "--key-file", str(old), "--new-key-file", str(new), *extra
        )
        assert result.exit_code == 0, result.output
        return result

    def gateway_env(self, **extra: str) -> dict[str, str]:
        """The environment of a ``lockgate serve`` on this site (logging at INFO, so that
        more of what the gateway does reaches its output)."""
        return {
            "LOCKGATE_RUN_STORE": self.store_url,
            "LOCKGATE_SECRETS": "database",
            "LOCKGATE_LOG_LEVEL": "INFO",
            **extra,
        }


def replace_key_file(path: Path, new: Path) -> None:
    """Put ``new``'s key in ``path`` as an operator would: a private file renamed over it."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(new.read_text(encoding="ascii"))
    os.replace(temporary, path)


def key_text(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


def key_id(path: Path) -> str:
    return MasterKey.from_file(path).key_id


def never_500(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code < 500, (response.request.url, response.text)


class EchoServer:
    """An upstream on loopback answering every GET with what it received (method, path,
    headers) as JSON; ``/status/401`` answers the same with a 401."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _EchoHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"method": "GET", "path": self.path, "headers": dict(self.headers.items())}
        ).encode()
        self.send_response(401 if self.path.startswith("/status/401") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet: the test reads the gateway's output, not this server's


@contextmanager
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
