"""Following a tutorial page as a newcomer would: every runnable block, in order, from an
empty folder.

A page's fenced blocks are read with their language and the prose just before them:

* ``toml`` and ``python`` blocks introduced by "Save this as `NAME`:" are written to ``NAME``
  (a ``toml`` block with no name is ``lockgate.toml``); "Add this to `NAME`:" appends.
  A ``python`` block with no name runs as a script (``python -``).
* ``sh`` blocks' commands run one by one in bash, in the folder, where ``lockgate`` is
  ``python -m lockgate`` and ``python`` this interpreter. ``lockgate serve`` starts a real
  gateway in the background (stopping the one before, as Ctrl+C would) on a free loopback
  port that stands in for the page's 8000; ``kill -9 $!`` kills it as the page says;
  ``export`` and ``NAME=$(command)`` set the environment of the commands after them. ``aws``
  runs the AWS CLI v2 as written, or where only v1 is installed (the dev dependency), v1
  without the one v2-only flag, ``--cli-binary-format raw-in-base64-out`` (v1 sends a raw
  payload as it is).
* A ``text`` block right after an ``sh`` or ``python`` block is what that block prints (for
  ``lockgate`` commands, stderr too, as a terminal shows it): the output must match it,
  ``...`` standing for any text (ids, timings, paths).
* ``<!-- not-run: reason -->`` on the line before a block's fence keeps it out of all this.

``Tutorial.follow`` returns how many blocks it ran, so a page's test can hold it to the
number of runnable blocks on the page.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from tests.servers import free_port
from tests.support import wait_for

__all__ = ["Block", "Tutorial", "blocks", "matches", "runnable"]

DOCS = Path(__file__).parents[2] / "docs"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```[ \t]*$", re.S | re.M)
_SAVE = re.compile(r"(Save|Add) this (?:as|to) `([^`]+)`[^`\n]*:\s*$")
_NOT_RUN = re.compile(r"<!-- not-run: .+? -->\n$")  # on the line before the fence
RUNNABLE = frozenset({"toml", "python", "sh"})
PAGE_PORT = "8000"  # the port every page's examples use
V2_ONLY = ("--cli-binary-format", "raw-in-base64-out")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its text, and the prose between it and the last."""

    kind: str
    text: str
    before: str

    @property
    def not_run(self) -> bool:
        return bool(_NOT_RUN.search(self.before))

    @property
    def target(self) -> tuple[str, str] | None:
        """("Save" or "Add", file name) when the prose before says where it goes."""
        found = _SAVE.search(self.before.strip())
        return (found[1], found[2]) if found else None


def blocks(page: str) -> list[Block]:
    """The fenced blocks of ``docs/<page>``, in order."""
    text = (DOCS / page).read_text()
    found: list[Block] = []
    end = 0
    for fence in _FENCE.finditer(text):
        found.append(Block(fence[1], fence[2], text[end : fence.start()]))
        end = fence.end()
    return found


def runnable(page: str) -> int:
    """How many blocks of the page the tutorial's test must run."""
    return sum(block.kind in RUNNABLE and not block.not_run for block in blocks(page))


def matches(expected: str, output: str) -> bool:
    """Whether ``output`` is what ``expected`` shows, ``...`` standing for any text;
    trailing spaces and blank lines at either end do not count."""

    def tidy(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    pattern = ".*?".join(re.escape(part) for part in tidy(expected).split("..."))
    return re.fullmatch(pattern, tidy(output), re.S) is not None


def _commands(script: str) -> list[str]:
    """The commands of an ``sh`` block: continuation lines joined, comments dropped."""
    joined = script.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def _aws_cli() -> tuple[str, bool]:
    """The AWS CLI to run the page's ``aws`` commands with (v2 where the machine has one),
    and whether it is v2."""
    local = str(Path(sys.executable).parent / "aws")
    for candidate in (shutil.which("aws"), local):
        if candidate and Path(candidate).exists():
            version = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, check=False
            )
            if (version.stdout + version.stderr).startswith("aws-cli/2."):
                return candidate, True
    assert Path(local).exists(), f"{local} is missing: the AWS CLI is a dev dependency (uv sync)"
    return local, False


@dataclass
class Gateway:
    """A ``lockgate serve`` the page started, in the background."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Tutorial:
    """A newcomer at a shell in ``folder``, following ``page``."""

    page: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    # Commands (as written on the page) that print their expected text only once the
    # gateway has done something in the background: they are run again until they do.
    eventually: Iterable[str] = ()
    # Called before a block runs, with its index among the page's blocks (a test's hook
    # for what a reader does by hand, e.g. waiting until a run is under way).
    before_block: Callable[[int, Tutorial], None] | None = None
    port: int = field(default_factory=free_port)
    gateway: Gateway | None = None
    gateways: list[Gateway] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        shims = self.folder.parent / f"{self.folder.name}-bin"
        shims.mkdir(exist_ok=True)
        for name, argv in (("lockgate", f"{sys.executable} -m lockgate"), ("python", "")):
            shim = shims / name
            shim.write_text(f'#!/bin/sh\nexec {argv or sys.executable} "$@"\n')
            shim.chmod(0o755)
        home = self.folder.parent / f"{self.folder.name}-home"
        home.mkdir(exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKGATE_", "AWS_"))}
        self.env = {
            **base,
            "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),  # no developer's AWS profile or CLI notes
            "LOCKGATE_RUNTIME_DIR": str(home / "runtime"),
            "LOCKGATE_URL": self.url,  # the CLI's default, 127.0.0.1:8000, moved
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order a terminal shows them
            **self.env,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def local(self, text: str) -> str:
        """The page's text with its port replaced by the test's."""
        return re.sub(rf"(127\.0\.0\.1|localhost):{PAGE_PORT}\b", rf"\1:{self.port}", text)

    # The blocks

    def follow(self) -> int:
        """Run every runnable block in order; returns how many ran."""
        ran = 0
        page = blocks(self.page)
        for index, block in enumerate(page):
            if block.kind not in RUNNABLE or block.not_run:
                continue
            if self.before_block is not None:
                self.before_block(index, self)
            expected = None
            following = page[index + 1] if index + 1 < len(page) else None
            if following is not None and following.kind == "text" and block.kind != "toml":
                expected = following.text
            self._run(index, block, expected)
            ran += 1
        return ran

    def _run(self, index: int, block: Block, expected: str | None) -> None:
        where = f"{self.page}, block {index + 1}"
        target = block.target
        if block.kind == "toml" or (block.kind == "python" and target):
            verb, name = target or ("Save", "lockgate.toml")
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            text = self.local(block.text)
            path.write_text(path.read_text() + "\n" + text if verb == "Add" else text)
            return
        if block.kind == "python":
            done = self._shell(["python", "-"], stdin=self.local(block.text))
            output = done.stdout
            assert done.returncode == 0, f"{where}: {done.stderr}"
        else:
            output = "".join(self._command(where, line, expected) for line in _commands(block.text))
        self.outputs.append(output)
        if expected is not None:
            expected = self.local(expected)
            assert matches(expected, output), f"{where} printed:\n{output}\nnot:\n{expected}"

    def _command(
        self, where: str, line: str, expected: str | None, *, terminal: bool = True
    ) -> str:
        """Run one command line; what it prints (with stderr, as a terminal shows it, unless
        ``terminal`` is False, as in ``$(...)``)."""
        if assigned := re.fullmatch(r"(\w+)=\$\((.*)\)", line):  # NAME=$(command)
            value = self._command(where, assigned[2], None, terminal=False)
            self.env[assigned[1]] = value.strip()
            return ""
        argv = shlex.split(line)
        if argv[:2] == ["lockgate", "serve"]:
            return self.serve([arg for arg in argv[2:] if arg != "&"]).output()
        if argv == ["kill", "-9", "$!"]:
            self.kill()
            return ""
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value.replace("$PWD", str(self.folder))
            return ""
        page_line = line
        if argv[0] == "aws":
            cli, v2 = _aws_cli()
            if not v2:
                argv = [arg for arg in argv if arg not in V2_ONLY]
            line = shlex.join([cli] + [self.local(arg) for arg in argv[1:]])
        else:
            line = self.local(line)

        # A terminal shows what lockgate writes to stderr (progress, notes) with its stdout;
        # curl writes a progress meter there that a terminal never shows.
        merged = terminal and "lockgate" in argv

        def attempt() -> subprocess.CompletedProcess[str]:
            return self._shell(["bash", "-c", line], merged=merged)

        if page_line in self.eventually:
            done = wait_for(
                attempt,
                lambda done: expected is not None and matches(self.local(expected), done.stdout),
                what=f"{where}: {line} printing what the page says",
            )
        else:
            done = attempt()
        assert done.returncode == 0, f"{where}: {line}: {done.stderr}{done.stdout}"
        return done.stdout

    def _shell(
        self, argv: list[str], stdin: str | None = None, *, merged: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
            cwd=self.folder,
            env=self.env,
            timeout=120,
            check=False,
        )

    # The gateway

    def serve(self, args: list[str]) -> Gateway:
        """``lockgate serve ARGS`` in the background, on this tutorial's port, once ready."""
        self.stop()
        log = self.folder.parent / f"{self.folder.name}-gateway-{len(self.gateways)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "lockgate", "serve", *args, "--port", str(self.port)],
                cwd=self.folder,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.gateway = Gateway(process, log)
        self.gateways.append(self.gateway)
        wait_for(self._ready, bool, what=f"the gateway ready on {self.url}")
        return self.gateway

    def _ready(self) -> bool:
        assert self.gateway is not None
        exited = self.gateway.process.poll()
        assert exited is None, f"lockgate serve exited {exited}: {self.gateway.output()}"
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL the gateway, as ``kill -9 $!`` does."""
        assert self.gateway is not None, "kill -9 $! with no gateway running"
        self.gateway.process.kill()
        assert self.gateway.process.wait(30) == -signal.SIGKILL
        self.gateway = None

    def stop(self) -> None:
        """Stop the running gateway as Ctrl+C does."""
        if self.gateway is None:
            return
        process = self.gateway.process
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.gateway = None

    def __enter__(self) -> Tutorial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is not None:  # shown by pytest with the failure
            for gateway in self.gateways:
                print(f"--- {gateway.log.name}\n{gateway.output()[-6000:]}")
