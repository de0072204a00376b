"""``lockgate.modules.gateway`` and ``event_bus``: forwarding to the latest started gateway,
handing back to the previous one when it stops, and patchable as the seed's tests patch."""

from __future__ import annotations

from typing import Any, cast
from unittest.mock import Mock, patch

import pytest

from lockgate.modules import event_bus, gateway
from lockgate.use_cases.events.bus import EventBus
from lockgate.use_cases.modules import context as module_context
from lockgate.use_cases.modules.registry import ModuleRegistry


def registry(name: str) -> ModuleRegistry:
    fake = Mock(spec=ModuleRegistry)
    fake.get_module_service.return_value = name
    return cast("ModuleRegistry", fake)


def test_nothing_bound_says_so_when_called() -> None:
    with pytest.raises(RuntimeError, match="not bound"):
        gateway.get_module_service("users", "UserService")
    with pytest.raises(RuntimeError, match="not bound"):
        event_bus.publish("e", {}, "users")


def test_the_latest_gateway_wins_and_the_previous_one_comes_back() -> None:
    first, second = registry("first"), registry("second")
    bus = cast("EventBus", Mock(spec=EventBus))
    module_context.bind(first, bus)
    try:
        module_context.bind(second, bus)
        assert gateway.get_module_service("users", "UserService") == "second"
        module_context.unbind(second)
        assert gateway.get_module_service("users", "UserService") == "first"
    finally:
        module_context.unbind(first)
        module_context.unbind(second)


def test_the_seeds_unit_tests_can_patch_the_gateway_without_a_running_one() -> None:
    with patch("lockgate.modules.gateway.get_module_service") as mock_get_service:
        mock_user_service = Mock()
        mock_user_service.get_user_by_id.return_value = {"id": 1, "is_active": True}
        mock_get_service.return_value = mock_user_service
        service: Any = gateway.get_module_service("users", "UserService")
        assert service.get_user_by_id(1)["is_active"] is True
        mock_get_service.assert_called_with("users", "UserService")
