"""Seed 004, "Gateway Refactoring Implementation Plan": its five blocks are specifications
(a model, a result, a DTO, a processor, a handler's body). None is a program to run, so
each is read (parsed) and what it names is checked to exist in Lockgate under that name,
with the behaviour the plan asks of it.

Outcomes: #1-#4 are specs whose names exist; #5 is an illustration (``...`` as a
parameter, a seed mistake) whose counterpart, and the plan's verification list, are checked.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockgate import FunctionEntity, InvocationResult, ScalingConfig
from lockgate.bootstrap import build
from lockgate.config.settings import Settings, load_config
from lockgate.controllers.http import function_routes
from lockgate.controllers.http.app import create_app
from lockgate.errors import (
    CircuitOpenError,
    FunctionNotFoundError,
    InvocationTimeoutError,
    TooManyRequestsError,
    WorkerCrashedError,
)
from lockgate.models.context import InputContext
from lockgate.models.gateway_config import GatewayConfig
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.routes.request_processor import GatewayRequestProcessor
from tests.seeds.support import Fix, block, blocks, changed

OUTCOMES = {1: "spec", 2: "spec", 3: "spec", 4: "spec", 5: "illustration"}


def test_every_block_of_the_seed_is_accounted_for() -> None:
    assert {b.n for b in blocks() if b.seed == "004"} == set(OUTCOMES)


def spec_fields(n: int, cls: str) -> dict[str, ast.expr | None]:
    """The annotated fields of class ``cls`` in block ``n``, in order, with defaults."""
    tree = ast.parse(block("004", n).text)
    body = next(c for c in ast.walk(tree) if isinstance(c, ast.ClassDef) and c.name == cls).body
    return {
        node.target.id: node.value
        for node in body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


# -- 1.1 FunctionEntity ----------------------------------------------------------------------


def test_function_entity_has_the_specs_fields_and_defaults() -> None:
    fields = spec_fields(1, "FunctionEntity")
    assert list(fields) == ["name", "image", "environment", "scaling", "timeout_seconds"]
    # Workers are processes: the handler says what runs, so the spec's fields come with it.
    function = FunctionEntity(
        name="simulate",
        image="registry.example/simulate:1.4",
        environment={},
        scaling=ScalingConfig(),
        timeout_seconds=300,
        handler="handlers:simulate",
    )
    assert function.image == "registry.example/simulate:1.4"  # "read attributes (.image)"
    defaults = FunctionEntity(name="simulate", handler="handlers:simulate")
    assert defaults.environment == {}
    assert defaults.timeout_seconds == 300
    assert defaults.image is None


def test_an_image_without_a_handler_is_refused_saying_what_runs() -> None:
    with pytest.raises(ValueError, match=r"image .registry\.example/sim:1. is recorded, not run"):
        FunctionEntity(name="sim", image="registry.example/sim:1")
    with pytest.raises(ValueError, match="image must be a non-empty image reference"):
        FunctionEntity(name="sim", handler="handlers:sim", image=" ")


def test_the_image_changes_the_config_hash_only_when_set() -> None:
    plain = FunctionEntity(name="sim", handler="handlers:sim")
    packaged = FunctionEntity(name="sim", handler="handlers:sim", image="registry.example/sim:1")
    assert plain.config_hash != packaged.config_hash
    assert plain.config_hash == FunctionEntity(name="sim", handler="handlers:sim").config_hash


def test_get_function_config_returns_the_model() -> None:
    function = FunctionEntity(name="simulate", handler="handlers:simulate", image="sim:1")
    registry = FunctionRegistry([function])
    assert registry.get_function_config("simulate") is function
    with pytest.raises(FunctionNotFoundError, match="nope"):
        registry.get_function_config("nope")


def test_lockgate_toml_takes_an_image(tmp_path: Path) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_text(
        '[functions.sim]\nhandler = "handlers:sim"\nimage = "registry.example/sim:1"\n',
        encoding="utf-8",
    )
    config, _ = load_config(path)
    assert config.functions["sim"].image == "registry.example/sim:1"
    path.write_text('[functions.sim]\nimage = "registry.example/sim:1"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"functions\.sim\.handler: missing.*image is recorded"):
        load_config(path)


@pytest.fixture
async def lambda_api() -> AsyncIterator[httpx.AsyncClient]:
    functions = {
        "packaged": FunctionEntity(name="packaged", handler="handlers:sim", image="sim:1.4"),
        "zipped": FunctionEntity(name="zipped", handler="handlers:sim"),
    }
    app = create_app(build(Settings(run_store="memory://"), GatewayConfig(functions=functions)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


async def test_get_function_reports_an_image_function_as_aws_does(
    lambda_api: httpx.AsyncClient,
) -> None:
    answer = (await lambda_api.get("/2015-03-31/functions/packaged")).json()
    configuration = answer["Configuration"]
    assert configuration["PackageType"] == "Image"
    assert "Runtime" not in configuration
    assert "Handler" not in configuration
    assert configuration["ImageConfigResponse"] == {"ImageConfig": {"Command": ["handlers:sim"]}}
    assert "runs as a worker process" in configuration["Description"]
    assert answer["Code"]["ImageUri"] == "sim:1.4"
    zipped = (await lambda_api.get("/2015-03-31/functions/zipped")).json()
    assert zipped["Configuration"]["PackageType"] == "Zip"
    assert zipped["Configuration"]["Runtime"] == "python3.11"
    assert "ImageUri" not in zipped["Code"]
    listed = (await lambda_api.get("/2015-03-31/functions/")).json()["Functions"]
    assert [(f["FunctionName"], f["PackageType"]) for f in listed] == [
        ("packaged", "Image"),
        ("zipped", "Zip"),
    ]


# -- 1.2 InvocationResult --------------------------------------------------------------------


def test_invocation_result_has_the_specs_fields_in_order() -> None:
    fields = spec_fields(2, "InvocationResult")
    assert list(fields) == ["success", "status_code", "payload", "headers", "error"]
    assert InvocationResult._fields[:5] == tuple(fields)
    assert isinstance(InvocationResult.is_retryable, property)


@pytest.mark.parametrize(
    ("result", "retryable"),
    [
        pytest.param(
            InvocationResult(False, 502, None, error=ConnectionError("refused")),
            True,
            id="ConnectionError: nothing was reached",
        ),
        pytest.param(InvocationResult(False, 502, None), True, id="a 502 without an error"),
        pytest.param(InvocationResult(False, 503, None), True, id="a 503 without an error"),
        pytest.param(
            InvocationResult(False, 503, None, error=CircuitOpenError("paused", retry_after=1)),
            True,
            id="circuit open (503)",
        ),
        pytest.param(
            InvocationResult(
                False, 502, None, error=WorkerCrashedError("died", reached_handler=False)
            ),
            True,
            id="worker died before the request was written (502)",
        ),
        pytest.param(
            InvocationResult(
                False, 502, None, error=WorkerCrashedError("died", reached_handler=True)
            ),
            False,
            id="worker died in the handler (502): never retried",
        ),
        pytest.param(
            InvocationResult(False, 429, None, error=TooManyRequestsError("full", retry_after=1)),
            True,
            id="throttled before it ran",
        ),
        pytest.param(
            InvocationResult(False, 504, None, error=InvocationTimeoutError("late")),
            False,
            id="timed out in the handler",
        ),
        pytest.param(
            InvocationResult(False, 200, b"{}", function_error="Unhandled"),
            False,
            id="the handler raised",
        ),
        pytest.param(
            InvocationResult(False, 500, None, error=RuntimeError("?")),
            False,
            id="a foreign error: whether it ran is unknown",
        ),
        pytest.param(InvocationResult(True, 200, b"{}"), False, id="success"),
    ],
)
def test_is_retryable_follows_the_seed_without_retrying_what_reached_the_handler(
    result: InvocationResult, retryable: bool
) -> None:
    assert result.is_retryable is retryable


def test_a_foreign_error_is_read_as_a_lockgate_error() -> None:
    failure = InvocationResult(False, 502, None, error=ConnectionError("refused")).failure
    assert failure is not None
    assert failure.retryable
    assert "ConnectionError: refused" in failure.message
    crash = WorkerCrashedError("died", reached_handler=True)
    assert InvocationResult(False, 502, None, error=crash).failure is crash


# -- 1.3 LambdaInvoker ------------------------------------------------------------------------


def test_lambda_invoker_is_composed_of_the_plans_private_methods() -> None:
    for name in ("_acquire_worker", "_execute_request", "_validate_response"):
        assert callable(getattr(LambdaInvoker, name)), name
    # invoke_function choreographs them (and nothing else does their work).
    source = inspect.getsource(LambdaInvoker.invoke_function)
    positions = [source.index(f"self.{n}(") for n in ("_acquire_worker", "_execute_request")]
    assert positions == sorted(positions)
    assert "self._validate_response(" in source


def test_no_lambda_invoker_method_is_longer_than_30_lines() -> None:
    """Verification checklist, item 2."""
    lengths = {
        name: len(inspect.getsourcelines(member)[0])
        for name, member in inspect.getmembers(LambdaInvoker, inspect.isfunction)
        if member.__qualname__.startswith("LambdaInvoker.")
    }
    assert lengths
    assert {n: length for n, length in lengths.items() if length > 30} == {}


# -- 2.1 InputContext, 2.2 GatewayRequestProcessor -------------------------------------------


def test_input_context_has_the_specs_fields_first_and_in_order() -> None:
    fields = spec_fields(3, "InputContext")
    assert InputContext._fields[: len(fields)] == tuple(fields)
    context = InputContext(
        path="/hello",
        method="GET",
        headers={},
        query_params={},
        body=b"",
        user_id=None,
        request_id="r-1",
    )
    assert context.user_id is None


async def test_the_processor_is_made_as_the_spec_makes_it() -> None:
    # The spec's process() has only comments for a body: a block cannot end there.
    spec = changed(
        block("004", 4).text,
        Fix("# 3. Return Result", "# 3. Return Result\n        pass", "a body of comments only"),
    )
    tree = ast.parse(spec)
    init, process = (
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    assert [a.arg for a in init.args.args] == ["self", "invoker", "event_builder"]
    assert isinstance(process, ast.AsyncFunctionDef)
    assert [a.arg for a in process.args.args] == ["self", "context"]

    invoker: Any = object()  # the processor keeps it; nothing is invoked here
    processor = GatewayRequestProcessor(invoker, EventBuilder())
    assert inspect.iscoroutinefunction(processor.process)
    # No routes yet: every path is answered 404, and the invoker is never called.
    context = InputContext("/hello", "GET", {}, {}, b"", None, "r-1")
    assert (await processor.process(context)).status_code == 404


# -- 3.2 gateway_handler, and the verification checklist ---------------------------------------


def test_the_handler_illustration_and_its_counterpart() -> None:
    text = block("004", 5).text
    with pytest.raises(SyntaxError):  # `...` as a parameter: the seed's own illustration
        ast.parse(text)
    fixed = changed(text, Fix("request: Request, ...", "request: Request", "... as a parameter"))
    calls = {
        n.func.id
        for n in ast.walk(ast.parse(fixed))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert calls == {"request_to_context", "map_result_to_response"}
    # Lockgate's handler: the request becomes an InputContext, the processor answers it.
    assert callable(function_routes.input_context)
    assert "self._processor.process(" in inspect.getsource(function_routes.FunctionRoutes)


def test_the_route_handler_holds_no_business_logic() -> None:
    """Verification checklist, item 3: no event building, no ``json.dumps``."""
    tree = ast.parse(Path(function_routes.__file__).read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "EventBuilder" not in names
    assert "dumps" not in attributes
    assert "event_builder" not in names | attributes
