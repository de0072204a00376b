"""Seed 003, "API Gateway Usage Guide" (a modular monolith's modules), block by block.

The modules live where the seed puts them, in an ``aura/`` folder of the project the
program runs from: a fresh folder holding a copy of ``examples/hello/aura`` (Lockgate's
rendering of the seed's modules: its users have data, where the seed's own 003#13 only has
``pass``), with ``aura/notifications/services.py`` being the seed's own 003#10. The gateway
is ``build(settings, modules=AURA_MODULES)`` with 003#12's own dict, run from that folder
and *without* it on ``sys.path``: services load from where the user runs, as the README says.

Each block runs with its imports naming Lockgate (``config.gateway`` → ``lockgate.modules``).
The seed's free names (``user_id``, ``logger``) are given as the placeholders they are.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import shutil
import sys
import unittest
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockgate.application import Application
from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.modules import ModuleDependencyError, event_bus
from tests.seeds.support import Fix, block, blocks, changed, lockgate_text, run
from tests.support import eventually

AURA = Path(__file__).parents[2] / "examples" / "hello" / "aura"

OUTCOMES = {
    1: "text",
    2: "runs",
    3: "runs",
    4: "fixed",  # a positional argument after keyword arguments
    5: "fixed",  # List and Dict never imported
    6: "runs",
    7: "runs",
    8: "runs",
    9: "fixed",  # its request and response classes and two helpers are never shown
    10: "runs",
    11: "other framework",  # Django REST framework
    12: "runs",
    13: "runs",
    14: "runs",
    15: "runs",
    16: "fixed",  # `...` as an argument
    17: "fixed",  # TestCase never imported
    18: "fragment",  # `return` outside a function
    19: "runs",
    20: "runs",
    21: "runs",
}


def test_every_block_of_the_seed_is_accounted_for() -> None:
    assert {b.n for b in blocks() if b.seed == "003"} == set(OUTCOMES)


def text(n: int, *changes: Fix) -> str:
    return changed(lockgate_text(block("003", n).text), *changes)


# What the seed's 003#10 leaves out of its module: its other services and the two senders.
NOTIFICATIONS_REST = """

logger = logging.getLogger(__name__)
SENT = []


class EmailService:
    def send(self, to, subject):
        SENT.append((to, subject))


class SMSService:
    def send(self, to, text):
        SENT.append((to, text))


def _confirm(self, patient, session_id):
    EmailService().send(patient["email"], f"session {session_id} booked")


def _notify(self, therapist, session_id):
    EmailService().send(therapist["email"], f"session {session_id} in your calendar")


NotificationService.send_session_confirmation = _confirm
NotificationService.send_session_notification = _notify


def get_services():
    return {
        "EmailService": EmailService,
        "SMSService": SMSService,
        "NotificationService": NotificationService,
    }
"""


@dataclasses.dataclass
class ScheduleSessionRequest:  # never shown by the seed (003#9, 003#16)
    patient_id: int
    therapist_id: int


@dataclasses.dataclass
class ScheduleSessionResponse:
    success: bool
    session: dict[str, Any] | None = None
    error_message: str | None = None


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The user's project folder, the working directory, with the seed's modules in it."""
    shutil.copytree(AURA, tmp_path / "aura", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "aura" / "notifications" / "services.py").write_text(
        "import logging\n" + text(10) + NOTIFICATIONS_REST, encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # what the gateway adds is undone
    assert str(tmp_path) not in sys.path
    yield tmp_path
    for name in [m for m in sys.modules if m == "aura" or m.startswith("aura.")]:
        del sys.modules[name]  # the next test's modules are made anew


@pytest.fixture
async def seed(project: Path) -> AsyncIterator[dict[str, Any]]:
    namespace: dict[str, Any] = {
        "__name__": "seed_003",
        "user_id": 1,  # a free name in 003#2, #3, #20
        "logger": logging.getLogger("seed_003"),  # never defined by the seed
    }
    await carry_gateway_import(namespace)  # 003#2's, which the later blocks use
    await run(text(12), namespace, block("003", 12).label)
    application = build(
        Settings(run_store="memory://", secrets="off", shutdown_grace=1),
        modules=namespace["AURA_MODULES"],
    )
    async with application:
        namespace["application"] = application
        yield namespace


async def test_003_12_modules_load_from_the_folder_the_program_runs_in(
    seed: dict[str, Any], project: Path
) -> None:
    application: Application = seed["application"]
    assert sorted(application.modules.list_modules()) == ["mentalhealth", "notifications", "users"]
    assert sys.modules["aura.users.services"].__file__ == str(project / "aura/users/services.py")


async def test_003_2_and_3_getting_services(seed: dict[str, Any]) -> None:
    await run(text(2), seed, block("003", 2).label)
    assert seed["user_profile"]["name"] == "Ann"
    await run(text(3), seed, block("003", 3).label)
    assert seed["get_user_safely"](1)["id"] == 1
    assert seed["get_user_safely"](99) is None


async def test_003_4_an_inter_module_call(seed: dict[str, Any]) -> None:
    block_4 = text(
        4,
        Fix(
            "source_module='mentalhealth',\n"
            "                target_module='users',\n"
            "                service='UserService',\n"
            "                method='get_user_by_id',\n"
            "                patient_id",
            "'mentalhealth', 'users', 'UserService', 'get_user_by_id', patient_id",
            "a positional argument after keyword arguments (003#20 writes them positionally)",
        ),
    )
    await run(block_4, seed, block("003", 4).label)
    service = seed["TherapySessionService"]()
    assert service.schedule_session(1, 2) is None  # the seed's body stops at "Continue..."
    with pytest.raises(ValueError, match="Patient not found"):
        service.schedule_session(99, 2)


async def test_003_5_batch_operations(seed: dict[str, Any]) -> None:
    block_5 = text(
        5,
        Fix(
            "def validate_multiple_users",
            "from typing import Dict, List\n\ndef validate_multiple_users",
            "List and Dict are used but never imported",
        ),
    )
    await run(block_5, seed, block("003", 5).label)
    assert seed["validate_multiple_users"]([1, 3, 99]) == {1: True, 3: False, 99: False}


async def test_003_6_7_8_health_and_caching(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    await run(text(6), seed, block("003", 6).label)
    assert capsys.readouterr().out == (
        "Module is healthy. Services: ['AuthenticationService', 'UserService']\n"
    )
    await run(text(7), seed, block("003", 7).label)
    assert seed["check_system_health"]() == {
        "healthy": ["users", "mentalhealth", "notifications"],
        "unhealthy": [],
        "total_modules": 3,
    }
    await run(text(8), seed, block("003", 8).label)  # asserts the cached instance itself


def use_case_with_its_helpers(namespace: dict[str, Any]) -> Any:
    """003#9's class with what the seed leaves out: a session made, an event published."""
    sessions = itertools.count(1)
    use_case: Any = namespace["ScheduleTherapySessionUseCase"]

    def create_session(self: Any, request: Any) -> dict[str, Any]:
        return {"session_id": next(sessions), "patient_id": request.patient_id}

    def notify(self: Any, session: dict[str, Any]) -> None:
        event = {**session, "therapist_id": 2}
        event_bus.publish("therapy_session.scheduled", event, "mentalhealth")

    use_case._create_session = create_session
    use_case._notify_session_scheduled = notify
    return use_case


async def test_003_9_and_10_a_use_case_notifies_through_the_event_bus(
    seed: dict[str, Any],
) -> None:
    seed["ScheduleSessionRequest"] = ScheduleSessionRequest  # the seed's undefined DTOs
    seed["ScheduleSessionResponse"] = ScheduleSessionResponse
    await run(text(9), seed, block("003", 9).label)
    use_case = use_case_with_its_helpers(seed)()
    response = use_case.execute(ScheduleSessionRequest(patient_id=1, therapist_id=2))
    assert response.success, response.error_message
    refused = use_case.execute(ScheduleSessionRequest(patient_id=3, therapist_id=2))
    assert refused.error_message == "Invalid or inactive patient"
    # 003#10's NotificationService is the notifications module here: it was subscribed when
    # the gateway made it, and is told of the session.
    sent = sys.modules["aura.notifications.services"].SENT
    await eventually(lambda: len(sent) == 2)
    assert sent == [
        ("ann@example.org", "session 1 booked"),
        ("bo@example.org", "session 1 in your calendar"),
    ]


def test_003_11_is_django_rest_framework() -> None:
    assert "from rest_framework.decorators import api_view" in block("003", 11).text
    # Lockgate serves the same answer itself: GET /modules (tests/e2e/test_modules_example.py).


async def test_003_13_the_seeds_own_users_module(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "aura" / "users" / "services.py").write_text(text(13), encoding="utf-8")
    modules = {"users": {"services_module": "aura.users.services", "provides": ["UserService"]}}
    async with build(Settings(run_store="memory://", secrets="off"), modules=modules) as app:
        health = app.modules.get_module_health("users")
    assert health["status"] == "healthy"
    assert health["services"] == ["AuthenticationService", "UserService"]


async def test_003_14_and_15_error_handling(
    seed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    await run(text(14), seed, block("003", 14).label)
    call = seed["safe_service_call"]
    assert call("users", "UserService", "get_user_by_id", 1)[0]["name"] == "Ann"
    assert call("users", "UserService", "nope") == (None, "Method nope not found on UserService")
    assert call("nowhere", "UserService", "x") == (None, "nowhere.UserService not available")
    with caplog.at_level(logging.ERROR, logger="seed_003"):
        await run(text(15), seed, block("003", 15).label)
    assert "Dependency violation: " in caplog.text
    assert "'billing'" in caplog.text
    assert issubclass(ModuleDependencyError, ValueError)


async def test_003_16_the_seeds_unit_test_patches_the_gateway(seed: dict[str, Any]) -> None:
    seed["ScheduleSessionRequest"] = ScheduleSessionRequest
    seed["ScheduleSessionResponse"] = ScheduleSessionResponse
    await run(text(9), seed, block("003", 9).label)
    use_case_with_its_helpers(seed)
    block_16 = text(
        16,
        Fix(
            "ScheduleSessionRequest(patient_id=1, therapist_id=2, ...)",
            "ScheduleSessionRequest(patient_id=1, therapist_id=2)",
            "`...` as an argument after keywords",
        ),
    )
    assert "@patch('lockgate.modules.gateway.get_module_service')" in block_16
    await run(block_16, seed, block("003", 16).label)
    seed["TestScheduleSessionUseCase"]().test_schedule_session_success()


async def test_003_17_the_seeds_integration_tests(seed: dict[str, Any]) -> None:
    block_17 = text(
        17,
        Fix(
            "class TestGatewayIntegration(TestCase):",
            "from unittest import TestCase\n\nclass TestGatewayIntegration(TestCase):",
            "TestCase is used but never imported",
        ),
    )
    await run(block_17, seed, block("003", 17).label)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(seed["TestGatewayIntegration"])
    outcome = unittest.TestResult()
    suite.run(outcome)
    assert outcome.testsRun == 2
    assert outcome.wasSuccessful(), outcome.failures + outcome.errors


async def carry_gateway_import(namespace: dict[str, Any]) -> None:
    """``gateway``, as 003#2 imports it (later blocks use it without importing it)."""
    await run(text(2).splitlines()[0], namespace, "the import of 003#2")


async def test_003_18_an_excerpt_inside_a_function(seed: dict[str, Any]) -> None:
    with pytest.raises(SyntaxError, match="'return' outside function"):
        await run(text(18), seed, block("003", 18).label)
    body = "\n".join(f"    {line}" for line in text(18).splitlines())
    await run(f"def users_or_default(default_value):\n{body}\n    return service", seed)
    assert seed["users_or_default"](None) is not None


async def test_003_19_20_21_best_practices(seed: dict[str, Any]) -> None:
    await run(text(19), seed, block("003", 19).label)
    processor = seed["LongRunningProcessor"]()
    assert processor.user_service is not None
    processor.process_item(type("Item", (), {"user_id": 1})())
    await run(text(20), seed, block("003", 20).label)
    assert seed["result"]["name"] == "Ann"
    # alert_operations_team is the seed's own, undefined: every module is healthy, so it
    # is never called.
    await run(text(21), seed, block("003", 21).label)
    assert {h["status"] for h in seed["health_status"].values()} == {"healthy"}
