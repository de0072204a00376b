"""``CONTRIBUTING.md`` works as written: its recipes' code runs (the contract suite over
memory, SQLite and the real PostgreSQL; the resolver; the Lambda API action, called by boto3
through the real gateway app), every excerpt it quotes is still in its file word for word, its
``toml`` matches ``pyproject.toml``, and the files it names exist.

A test that needs PostgreSQL fails when it is down, as every contract suite does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from fastapi import APIRouter

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.gateways.workers.memory import InMemoryWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from tests.contract.backends import DURABLE_KINDS, KINDS, backend_of
from tests.docs.test_architecture import exists, expected_output, named_path

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "CONTRIBUTING.md"

_BLOCK = re.compile(
    r"(?:<!-- not-run: (?P<reason>[^\n]*?) -->\n)?^```(?P<kind>\w+)\n(?P<body>.*?)^```\n",
    re.S | re.M,
)
_EXCERPT = re.compile(r"an excerpt of (\S+), checked word for word")
_SPAN = re.compile(r"`([^`\n]+)`")


class Block(NamedTuple):
    kind: str
    body: str
    not_run: str | None


def page_blocks() -> list[Block]:
    return [Block(m["kind"], m["body"], m["reason"]) for m in _BLOCK.finditer(PAGE.read_text())]


def runnable(kind: str) -> list[str]:
    return [b.body for b in page_blocks() if b.kind == kind and b.not_run is None]


def run_block(body: str, name: str) -> tuple[dict[str, Any], str]:
    """Execute a block as a module of its own; what it defined, and what it printed."""
    namespace: dict[str, Any] = {"__name__": f"contributing_{name}"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(body, f"CONTRIBUTING.md, {name}", "exec"), namespace)
    return namespace, out.getvalue()


@pytest.fixture
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_runs_what_it_can_and_says_why_not_for_the_rest() -> None:
    blocks = page_blocks()
    ran = {kind: len(runnable(kind)) for kind in ("python", "toml", "sh")}
    assert ran == {"python": 4, "toml": 1, "sh": 0}
    not_run = [b for b in blocks if b.not_run is not None]
    assert [b.kind for b in not_run] == ["sh", "sh", "sh", "python", "python", "python"]
    assert all(b.not_run for b in not_run)  # each says why


def test_every_excerpt_is_still_in_its_file_word_for_word() -> None:
    excerpts = [
        (match[1], block.body)
        for block in page_blocks()
        if block.not_run is not None and (match := _EXCERPT.search(block.not_run))
    ]
    assert len(excerpts) == 3
    stale = [path for path, body in excerpts if body not in (ROOT / path).read_text()]
    assert not stale, f"CONTRIBUTING.md quotes code that is no longer in {stale}"


def test_the_toml_is_the_contract_in_pyproject() -> None:
    [block] = runnable("toml")
    quoted = tomllib.loads(block)["tool"]["importlinter"]["contracts"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = {c["id"]: c for c in project["tool"]["importlinter"]["contracts"]}
    assert [contract["id"] for contract in quoted] == ["resource-types"]
    for contract in quoted:
        assert contract == contracts[contract["id"]]


def test_every_path_the_page_names_exists() -> None:
    # Bare names (``memory.py``, ``ports.py``) are the roles of a family's files, not paths.
    spans = _SPAN.findall(PAGE.read_text())
    names = sorted({s for s in spans if named_path(s) and "/" in s})
    assert "tests/contract/backends.py" in names
    missing = [name for name in names if not exists(name)]
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def _drive(test: Callable[..., Any]) -> Iterator[tuple[str, str]]:
    """The kinds a contract test runs on, as its fixture's name says."""
    [parameter] = inspect.signature(test).parameters
    kinds = DURABLE_KINDS if parameter == "durable" else KINDS
    for kind in kinds:
        yield kind, parameter


async def test_the_store_recipes_contract_suite_passes_on_every_backend(
    clean_environment: Path,
) -> None:
    namespace, _ = run_block(runnable("python")[0], "the contract suite")
    tests = {name: f for name, f in namespace.items() if name.startswith("test_")}
    assert len(tests) == 2
    ran = []
    for name, test in tests.items():
        for kind, parameter in _drive(test):
            folder = clean_environment / f"{name}-{kind}"
            folder.mkdir()
            async with backend_of(kind, folder, namespace["MAKERS"]) as backend:
                await test(await backend.open() if parameter == "store" else backend)
            ran.append((name, kind))
    assert len(ran) == len(KINDS) + len(DURABLE_KINDS)


def test_the_resolver_recipe_runs_and_prints_what_the_page_says(clean_environment: Path) -> None:
    block = runnable("python")[1]
    _, printed = run_block(block, "the resolver")
    assert printed == expected_output(block)
    assert "True False" in printed


def _bytes(body: str | bytes | bytearray | IO[bytes] | IO[str] | None) -> bytes:
    """A prepared request's body, as bytes."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return _bytes(body.read())


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


async def test_boto3_calls_the_new_lambda_api_action_through_the_gateway(
    clean_environment: Path,
) -> None:
    router_block, test_block = runnable("python")[2:]
    made, _ = run_block(router_block, "the Lambda API action")
    tests, _ = run_block(test_block, "its boto3 test")
    config = GatewayConfig(
        functions={"echo": FunctionEntity("echo", "handlers:echo", code_dir=clean_environment)}
    )

    async def handler(event: Any) -> Any:
        return event

    application = build(
        Settings(run_store="memory://", secrets="off"),
        config,
        launcher=InMemoryWorkerLauncher(handler),
    )
    app = create_app(application)
    router = made["function_configuration_router"](application.registry)
    assert isinstance(router, APIRouter)
    app.api.include_router(router)  # as create_app would mount it
    url = "http://127.0.0.1:8000"
    loop = asyncio.get_running_loop()
    async with (
        application,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url) as http,
    ):

        def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
            """boto3's request, served by the app in-process instead of over a socket."""
            answer = asyncio.run_coroutine_threadsafe(
                http.request(
                    request.method,
                    request.url,
                    headers=dict(request.headers.items()),
                    content=_bytes(request.body),
                ),
                loop,
            ).result()
            headers = HTTPHeaders.from_pairs(list(answer.headers.multi_items()))
            return AWSResponse(request.url, answer.status_code, headers, _Body(answer.content))

        client = boto3.client(
            "lambda",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}),
        )
        # A before-send handler that returns a response replaces the HTTP call (the stubs
        # type handlers as returning None).
        client.meta.events.register("before-send.lambda", cast(Callable[..., None], send))
        try:
            [test] = [f for name, f in tests.items() if name.startswith("test_")]
            await asyncio.to_thread(test, client)
        finally:
            client.close()
