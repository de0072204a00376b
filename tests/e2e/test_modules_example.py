"""The seed's modular monolith as ``examples/hello`` serves it: users, mentalhealth and
notifications (and a billing module nobody may call), used the way the seed's code uses the
gateway, through ``from lockgate.modules import gateway, event_bus``, and over HTTP.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockgate import WorkflowRequest
from lockgate.application import Application
from lockgate.bootstrap import build
from lockgate.config.settings import Settings, load_config
from lockgate.controllers.http.app import create_app
from lockgate.modules import ModuleDependencyError, event_bus, gateway
from tests.support import eventually

HELLO = Path(__file__).parents[2] / "examples" / "hello" / "lockgate.toml"


@pytest.fixture
async def served() -> AsyncIterator[Application]:
    config, _ = load_config(HELLO)
    application = build(Settings(run_store="memory://", shutdown_grace=1), config)
    async with application:
        yield application
    for name in [m for m in sys.modules if m == "aura" or m.startswith("aura.")]:
        del sys.modules[name]  # the next test's gateway makes its services anew


def sent() -> list[tuple[str, str]]:
    notifications: Any = sys.modules["aura.notifications.services"]
    result: list[tuple[str, str]] = notifications.SENT
    return result


async def test_services_are_found_and_cached_as_the_seed_expects(served: Application) -> None:
    # First call - service is instantiated and cached
    user_service1 = gateway.get_module_service("users", "UserService")
    # Second call - returns cached instance (much faster)
    user_service2 = gateway.get_module_service("users", "UserService")
    # user_service1 and user_service2 are the same instance
    assert user_service1 is user_service2
    assert user_service1 is not None
    assert user_service1.get_user_by_id(1)["is_active"] is True
    assert gateway.get_module_service("users", "NoSuchService") is None
    assert gateway.get_module_service("nowhere", "UserService") is None


async def test_scheduling_validates_through_the_gateway_and_notifies_by_event(
    served: Application,
) -> None:
    before = len(sent())
    run = await served.execute_workflow(
        "schedule_session",
        WorkflowRequest(parameters={"patient_id": 1, "therapist_id": 2}),
    )
    assert run.status == "completed", run.error
    session = run.result["schedule"]["session"]
    assert run.result["schedule"]["success"] is True
    await eventually(lambda: len(sent()) >= before + 2)  # delivered by the durable bus
    assert sent()[before:] == [
        ("ann@example.org", f"Your session {session['session_id']} is booked"),
        ("bo@example.org", f"New session {session['session_id']} in your calendar"),
    ]
    assert served.modules.call_counts() == {("mentalhealth", "users"): 1}


async def test_an_inactive_patient_or_a_non_therapist_is_refused(served: Application) -> None:
    sessions = gateway.require_service("mentalhealth", "TherapySessionService")
    inactive = sessions.schedule_session(3, 2)
    assert inactive["error_message"] == "Invalid or inactive patient"
    not_a_therapist = sessions.schedule_session(1, 1)
    assert not_a_therapist["error_message"] == "Invalid therapist"


async def test_mentalhealth_may_not_call_billing(served: Application) -> None:
    # This will raise ValueError if mentalhealth module tries to call billing module
    # when billing is not in mentalhealth's dependencies
    with pytest.raises(ValueError, match="billing") as caught:
        gateway.inter_module_call("mentalhealth", "billing", "BillingService", "charge_session")
    assert isinstance(caught.value, ModuleDependencyError)
    assert str(caught.value) == (
        "module 'mentalhealth' may not call 'billing': it is not among 'mentalhealth''s "
        "declared dependencies (allowed: users)"
    )
    sessions = gateway.require_service("mentalhealth", "TherapySessionService")
    with pytest.raises(ModuleDependencyError):
        sessions.charge_session(1)  # the module's own code is held to the same rule


async def test_module_health_as_the_seed_reads_it(served: Application) -> None:
    health_status = gateway.get_module_health("users")
    assert health_status["status"] == "healthy"
    assert health_status["services"] == ["AuthenticationService", "UserService"]
    all_modules = gateway.list_modules()
    assert list(all_modules) == ["users", "mentalhealth", "notifications", "billing"]
    assert all(m["status"] == "healthy" for m in all_modules.values())


async def test_the_http_api_reports_modules_and_deliveries(served: Application) -> None:
    event_bus.publish(
        "therapy_session.scheduled",
        {"session_id": 99, "patient_id": 1, "therapist_id": 2},
        "mentalhealth",
    )
    transport = httpx.ASGITransport(app=create_app(served))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        modules = (await http.get("/modules")).json()
        assert modules["status"] == "healthy"
        assert set(modules["modules"]) == {"users", "mentalhealth", "notifications", "billing"}
        assert (await http.get("/modules/users/health")).json()["status"] == "healthy"
        missing = await http.get("/modules/nope/health")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "ModuleCallError"
        await eventually(lambda: bool(served.event_bus.stats()["delivered"]))
        found = (await http.get("/events/deliveries?status=completed")).json()
        delivery = found["deliveries"][0]
        assert delivery["subscriber"] == (
            "notifications:therapy_session.scheduled:NotificationService.handle_session_scheduled"
        )
        assert "data" not in delivery  # payloads are not shown
        sessions = gateway.require_service("mentalhealth", "TherapySessionService")
        sessions.schedule_session(1, 2)
        metrics = (await http.get("/metrics")).text
        assert 'lockgate_module_calls_total{source="mentalhealth",target="users"} 1.0' in metrics
        health = (await http.get("/health")).json()
        assert set(health["modules"]) == {"users", "mentalhealth", "notifications", "billing"}
