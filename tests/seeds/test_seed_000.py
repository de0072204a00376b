"""Seed 000, "Gateway Builder": its one block is another project's example (an AWS Batch
simulation runner behind ``ISimulationRunner``); what it asks of Lockgate is its rules.

The example runs as written, with the other project's models (``Run``, ``RunStatus``,
``RunStatusDetail``, which it imports from ``epistemix_platform``) given as the placeholders
they are and botocore's ``Stubber`` for AWS Batch. Then the rules, checked over Lockgate's
own code so that a new port or adapter that breaks one fails here, naming it:

* every Protocol is ``I``-named, ``@runtime_checkable`` and found in
  ``lockgate.gateways.interfaces`` (defined there or re-exported from a family's ports);
* every implementation of a port in ``lockgate.gateways`` is named ``<Technology><Purpose>``;
* every port method's docstring has Args (when it takes any), Returns (when it returns
  something), Raises, Side Effects and a Note (naming the external calls it makes).
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import pkgutil
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import lockgate
import lockgate.gateways
from lockgate.gateways import interfaces
from lockgate.gateways.aws.batch_job_runner import AWSBatchJobRunner
from tests.seeds.support import Fix, block, blocks, changed, run

OUTCOMES = {1: "fixed"}  # the other project's models are placeholders

SRC = Path(lockgate.__file__).parent
TECHNOLOGIES = (
    "AWS",
    "Botocore",
    "Dns",
    "Environment",
    "Httpx",
    "InMemory",
    "LocalProcess",
    "Nats",
    "OpenTelemetry",
    "Postgres",
    "Process",
    "Prometheus",
    "Redis",
    "RuntimeApi",
    "SQLite",
    "TextStream",
    "Watchfiles",
)
SECTIONS = ("Args", "Returns", "Raises", "Side Effects", "Note")


def test_every_block_of_the_seed_is_accounted_for() -> None:
    assert {b.n for b in blocks() if b.seed == "000"} == set(OUTCOMES)


# -- the example -------------------------------------------------------------------------


class RunStatus(enum.Enum):  # the other project's models, as its example uses them
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    ERROR = "ERROR"


@dataclasses.dataclass
class RunStatusDetail:
    status: RunStatus
    message: str


@dataclasses.dataclass
class Run:
    id: int
    job_id: int
    aws_batch_job_id: str | None = None

    def natural_key(self) -> str:
        return f"job-{self.job_id}-run-{self.id}"


def the_other_projects_models() -> types.ModuleType:
    module = types.ModuleType("seed_000_models")
    module.Run = Run  # type: ignore[attr-defined]
    module.RunStatus = RunStatus  # type: ignore[attr-defined]
    module.RunStatusDetail = RunStatusDetail  # type: ignore[attr-defined]
    return module


async def test_000_1_the_example_runs_behind_its_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "seed_000_models", the_other_projects_models())
    example = changed(
        block("000", 1).text,
        Fix(
            "from epistemix_platform.models import Run, RunStatus, RunStatusDetail",
            "from seed_000_models import Run, RunStatus, RunStatusDetail",
            "the example's models are another project's",
        ),
    )
    namespace: dict[str, Any] = {"__name__": "seed_000"}
    await run(example, namespace, block("000", 1).label)

    batch = boto3.client("batch", region_name="us-east-1")
    with Stubber(batch) as stub:
        stub.add_response(
            "submit_job",
            {"jobName": "job-7-run-3", "jobId": "b-42"},
            {
                "jobName": "job-7-run-3",
                "jobQueue": "simulation-queue",
                "jobDefinition": namespace["AWSBatchSimulationRunner"].JOB_DEFINITION_ARN,
                "containerOverrides": {
                    "environment": [
                        {"name": "JOB_ID", "value": "7"},
                        {"name": "RUN_ID", "value": "3"},
                    ]
                },
            },
        )
        stub.add_response("describe_jobs", {"jobs": [job("RUNNING")]}, {"jobs": ["b-42"]})
        runner = namespace["AWSBatchSimulationRunner"](batch_client=batch)
        assert isinstance(runner, namespace["ISimulationRunner"])
        simulation = Run(id=3, job_id=7)
        runner.submit_run(simulation)
        assert simulation.aws_batch_job_id == "b-42"  # "Side Effects: Updates run..."
        assert runner.describe_run(simulation) == RunStatusDetail(RunStatus.RUNNING, "")
    with pytest.raises(ValueError, match="aws_batch_job_id is None"):
        runner.describe_run(Run(id=4, job_id=7))


def job(status: str) -> dict[str, Any]:
    return {
        "jobName": "job-7-run-3",
        "jobId": "b-42",
        "jobQueue": "simulation-queue",
        "status": status,
        "startedAt": 1,
        "jobDefinition": "simulation-runner:1",
    }


def test_000_1_lockgates_counterpart_is_its_job_runner() -> None:
    """The example's ``AWSBatchSimulationRunner`` is Lockgate's ``AWSBatchJobRunner``, an
    ``IJobRunner`` with the same action and query methods."""
    assert issubclass(AWSBatchJobRunner, interfaces.IJobRunner)
    for method in ("submit_run", "describe_run", "cancel_run"):
        assert inspect.iscoroutinefunction(getattr(AWSBatchJobRunner, method))


# -- the rules, over Lockgate's code -------------------------------------------------------


def _gateway_modules() -> Iterator[types.ModuleType]:
    gateways = Path(lockgate.gateways.__file__).parent
    for info in pkgutil.walk_packages([str(gateways)], "lockgate.gateways."):
        yield importlib.import_module(info.name)


def _typing_protocols() -> dict[str, str]:
    """Every ``typing.Protocol`` class in the source, by qualified name → its name."""
    found = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base) in ("Protocol", "typing.Protocol") for base in node.bases
            ):
                found[f"{path.relative_to(SRC)}:{node.name}"] = node.name
    return found


def _ports() -> dict[str, type]:
    return {
        name: value
        for name in interfaces.__all__
        if isinstance(value := getattr(interfaces, name), type)
        and getattr(value, "_is_protocol", False)
    }


def test_every_protocol_is_i_named_runtime_checkable_and_in_interfaces() -> None:
    ports = _ports()
    problems = []
    for where, name in sorted(_typing_protocols().items()):
        if not re.fullmatch(r"I[A-Z]\w+", name):
            problems.append(f"{where}: not I-named")
        elif name not in ports:
            problems.append(f"{where}: not found in lockgate.gateways.interfaces")
        elif not getattr(ports[name], "_is_runtime_protocol", False):
            problems.append(f"{where}: not @runtime_checkable")
    assert problems == []
    assert len(ports) >= 20


def _members(port: type) -> dict[str, Callable[..., Any]]:
    """A port's methods (properties as their getters), its Protocol bases' included."""
    members: dict[str, Callable[..., Any]] = {}
    for base in port.__mro__:
        if base.__module__.startswith("lockgate.gateways") and getattr(base, "_is_protocol", False):
            for name, value in vars(base).items():
                function = value.fget if isinstance(value, property) else value
                if inspect.isfunction(function) and (name == "__call__" or name[0] != "_"):
                    members.setdefault(name, function)
    return members


def _parameters(function: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


def _implements(cls: type, port: type) -> bool:
    """``cls`` has each of ``port``'s methods with the same parameters (by name)."""
    for name, function in _members(port).items():
        mine = inspect.getattr_static(cls, name, None)
        if name == "__call__" and "__call__" not in vars(cls):
            return False
        if isinstance(mine, property):
            continue
        if not callable(mine) or _parameters(mine) != _parameters(function):
            return False
    return True


def _implementations() -> dict[str, list[str]]:
    ports = _ports()
    found: dict[str, list[str]] = {}
    for module in _gateway_modules():
        if module is interfaces:
            continue
        for name, cls in vars(module).items():
            if (
                isinstance(cls, type)
                and cls.__module__ == module.__name__
                and cls.__name__ == name  # not an alias kept for an older name
                and not getattr(cls, "_is_protocol", False)
            ):
                implemented = [p for p, port in ports.items() if _implements(cls, port)]
                if implemented and not name.startswith("_"):
                    found[f"{module.__name__}.{name}"] = implemented
    return found


def test_every_implementation_is_named_by_technology() -> None:
    implementations = _implementations()
    assert len(implementations) >= 35  # the scan sees the adapters
    misnamed = [
        name for name in implementations if not name.rsplit(".", 1)[1].startswith(TECHNOLOGIES)
    ]
    assert misnamed == []


def _port_methods() -> list[tuple[str, Callable[..., Any]]]:
    """Each port's own methods (its bases' are checked as theirs)."""
    methods = []
    for name, port in _ports().items():
        for method, value in vars(port).items():
            function = value.fget if isinstance(value, property) else value
            if inspect.isfunction(function) and (method == "__call__" or method[0] != "_"):
                methods.append((f"{name}.{method}", function))
    return sorted(methods, key=lambda item: item[0])


@pytest.mark.parametrize(
    ("method", "function"), _port_methods(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_port_method_documents_the_seeds_sections(
    method: str, function: Callable[..., Any]
) -> None:
    doc = inspect.getdoc(function) or ""
    signature = inspect.signature(function)
    wanted = [
        section
        for section in SECTIONS
        if (section != "Args" or _parameters(function))
        and (section != "Returns" or signature.return_annotation not in ("None", None))
    ]
    missing = [s for s in wanted if not re.search(rf"^{s}:", doc, re.MULTILINE)]
    assert missing == [], f"{method} lacks {', '.join(missing)}"
