"""Running a page's blocks as its reader would: ``toml`` blocks as ``lockgate.toml`` files,
``python`` blocks executed (top-level ``await`` allowed), ``sh`` blocks as one bash script
each, with ``lockgate`` and ``aws`` (the AWS CLI the suite installs) on ``PATH`` as commands,
against a gateway this module serves on a free loopback port.

The pages address the gateway as a reader's would be, ``http://127.0.0.1:8000``; the runner
swaps in the address of the gateway it serves, and nothing else. A ``sh`` block that is only
``lockgate serve ...`` starts that gateway (and it stays up for the blocks after it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from lockgate.config.settings import load_config
from tests.docs.pages import Block, runnable
from tests.e2e.access_support import clean_env
from tests.e2e.gateway_process import GatewayProcess
from tests.seeds.support import run

__all__ = ["ADDRESS", "PageRun"]

ADDRESS = "127.0.0.1:8000"  # where the pages' reader runs their gateway
_SHIMS = {
    "lockgate": f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m lockgate "$@"\n',
    "aws": f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m awscli "$@"\n',
    "python": f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n',
}


# Variables bash sets for itself, not the reader's.
_BASH_OWN = frozenset({"_", "PWD", "OLDPWD", "SHLVL"})


class PageRun:
    """One page's runnable blocks, run in order in ``folder``; ``with`` stops the gateway.

    ``done()`` asserts every runnable block of the page was run, so a block added to the
    page without a test that runs it fails.
    """

    def __init__(self, page: str, folder: Path, env: dict[str, str] | None = None) -> None:
        self.page = page
        self.folder = folder
        self.blocks = runnable(page)
        self.ran = 0
        self.gateway: GatewayProcess | None = None
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        bin_dir = folder.parent / f"{folder.name}-bin"
        bin_dir.mkdir(exist_ok=True)
        for name, text in _SHIMS.items():
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        runtime = folder.parent / f"{folder.name}-runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            **clean_env(),
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "LOCKGATE_RUNTIME_DIR": str(runtime),  # where the local admin token's notes go
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **(env or {}),
        }

    def __enter__(self) -> PageRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.gateway is not None:
            self.gateway.stop()

    def next(self, language: str) -> Block:
        """The next runnable block, which must be of ``language``."""
        block = self.blocks[self.ran]
        assert block.language == language, (
            f"{self.page}:{block.line}: expected a {language} block, found {block.language}"
        )
        self.ran += 1
        return block

    def _here(self, text: str) -> str:
        return text.replace(ADDRESS, self.address) if self.gateway else text

    @property
    def address(self) -> str:
        assert self.gateway is not None, "no gateway served yet"
        return self.gateway.url.removeprefix("http://")

    def toml(self, name: str = "lockgate.toml") -> Path:
        """Write the next (toml) block as ``name`` in the folder and load it as a config."""
        path = self.folder / name
        path.write_text(self.next("toml").text, encoding="utf-8")
        if name.endswith("lockgate.toml"):
            load_config(path)  # raises ConfigError naming the key at fault
        return path

    def save(self, name: str, language: str = "python") -> Path:
        """Write the next block (of ``language``) as the file ``name``, as the page asks."""
        path = self.folder / name
        path.write_text(self.next(language).text, encoding="utf-8")
        if language == "sh":
            path.chmod(0o755)
        return path

    async def python(self, replace: dict[str, str] | None = None) -> str:
        """Run the next (python) block in the page's one namespace, in the folder; what it
        printed. ``replace``: what the test must change (named in the test)."""
        block = self.next("python")
        text = self._here(block.text)
        for old, new in (replace or {}).items():
            assert old in text, f"{self.page}:{block.line}: {old!r} is not in the block"
            text = text.replace(old, new)
        printed = io.StringIO()
        cwd, environ = Path.cwd(), dict(os.environ)
        # In the reader's shell: its folder and what the page's commands exported.
        os.chdir(self.folder)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            with contextlib.redirect_stdout(printed):
                await run(text, self.namespace, f"{self.page}:{block.line}")
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(environ)
        return printed.getvalue()

    def sh(self, *, check: bool = True, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run the next (sh) block as one bash script in the folder (``set -e``), or serve
        the gateway when the block is ``lockgate serve ...``."""
        block = self.next("sh")
        words = shlex.split(block.text, comments=True)
        if words[:2] in (["lockgate", "serve"], ["./dev", "serve"]):
            return self._serve(words)
        # The reader's shell keeps what a block exports for the blocks after it.
        saved = self.folder.parent / f"{self.folder.name}-env"
        script = f"{self._here(block.text)}\nenv -0 > {shlex.quote(str(saved))}\n"
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            cwd=self.folder,
            env=self.env,
        )
        if done.returncode == 0:
            pairs = [item.partition("=") for item in saved.read_text().split("\0") if item]
            self.env = {name: value for name, _, value in pairs if name not in _BASH_OWN}
        if check:
            assert done.returncode == 0, (
                f"{self.page}:{block.line}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def _serve(self, words: list[str]) -> subprocess.CompletedProcess[str]:
        # `./dev serve` alone serves the checkout's example, as the README says.
        default = "examples/hello/lockgate.toml" if words[0] == "./dev" else "lockgate.toml"
        config = words[words.index("--config") + 1] if "--config" in words else default
        env = {
            k: v for k, v in self.env.items() if k.startswith(("LOCKGATE_", "AWS_")) or k == "PATH"
        }
        # The store a reader's gateway (and CLI) uses by default: .lockgate/ beside the config.
        path = self.folder / config
        env.setdefault("LOCKGATE_RUN_STORE", f"sqlite:///{path.parent / '.lockgate/runs.sqlite3'}")
        # The flags a page's serve command adds that the runner does not set itself.
        self.gateway = GatewayProcess(path, env=env, args=[w for w in words if w == "--reload"])
        self.gateway.__enter__()
        # The CLI's default gateway is the reader's http://127.0.0.1:8000: here, this one.
        self.env["LOCKGATE_URL"] = self.gateway.url
        return subprocess.CompletedProcess(words, 0, "", "")

    def done(self) -> None:
        """Every runnable block of the page was run."""
        assert self.ran == len(self.blocks), (
            f"{self.page}: ran {self.ran} of its {len(self.blocks)} runnable blocks; the rest "
            f"start at line {self.blocks[self.ran].line if self.ran < len(self.blocks) else 0}"
        )


def lines_of(text: str) -> list[str]:
    """Printed text as its non-empty lines, for comparing with what a page shows."""
    return [line for line in re.split(r"\n", text) if line.strip()]
