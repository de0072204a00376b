"""What a module of a modular monolith imports from Lockgate.

from lockgate.modules import gateway, event_bus

user_service = gateway.get_module_service("users", "UserService")
gateway.inter_module_call("mentalhealth", "users", "UserService", "get_user_by_id", 1)
event_bus.subscribe("therapy_session.scheduled", handler, "notifications")
event_bus.publish("therapy_session.scheduled", {"session_id": 7}, "mentalhealth")
"""

from __future__ import annotations

from lockgate.errors import ModuleCallError, ModuleDependencyError, ServiceUnavailableError
from lockgate.use_cases.events.bus import current_event
from lockgate.use_cases.modules.context import event_bus, gateway

__all__ = [
    "ModuleCallError",
    "ModuleDependencyError",
    "ServiceUnavailableError",
    "current_event",
    "event_bus",
    "gateway",
]
