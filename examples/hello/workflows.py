"""Workflows of the hello example, declared in lockgate.toml as [workflows.NAME] builder.

``pipeline`` is the seed's extract -> transform -> load chain, with the users passed as a
parameter instead of read from a database (``examples/resources`` reads PostgreSQL), and a
last step that hands the summary to the ``echo`` function through its worker pool.
``context_aware`` is the seed's context example, unchanged but for its import.
``schedule_session`` books a therapy session through the ``mentalhealth`` module.
"""

from __future__ import annotations

from typing import Any

from lockgate import AsyncWorkflowBuilder, RetryPolicy, Workflow
from lockgate.modules import gateway


def build_pipeline() -> Workflow:
    return (
        AsyncWorkflowBuilder("pipeline", timeout=60)
        .add_parameter("users", list, description="[{'id': 1, 'name': 'ann', 'status': ...}]")
        .add_parameter("limit", int, default=100)
        .add_async_code(
            "extract",
            """
result = {"users": users[:limit]}
""",
        )
        .add_async_code(
            "transform",
            """
# Transform data
transformed = []
for user in users:
    transformed.append({
        "id": user["id"],
        "name": user["name"].upper(),
        "active": user["status"] == "active"
    })
result = {"transformed": transformed}
""",
        )
        .add_async_code(
            "load",
            """
result = {"loaded": len(transformed), "active": sum(u["active"] for u in transformed)}
""",
        )
        .add_function_step("announce", "echo", retry=RetryPolicy(max_attempts=3))
        .add_connection("extract", "users", "transform", "users")
        .add_connection("transform", "transformed", "load", "transformed")
        .add_connection("load", "result", "announce", "summary")
        .build()
    )


def build_context_aware() -> Workflow:
    return (
        AsyncWorkflowBuilder("context_aware")
        .add_async_code(
            "process",
            """
# Access execution context
from lockgate import get_current_context
context = get_current_context()

user = context.get_variable("user")
environment = context.get_variable("environment")

# Use context for conditional logic
if environment == "production":
    cache_ttl = 3600
else:
    cache_ttl = 60

result = {
    "processed_by": user,
    "cache_ttl": cache_ttl
}
""",
        )
        .build()
    )


async def schedule(patient_id: int, therapist_id: int) -> dict[str, Any]:
    """Book a session through the mentalhealth module, as a caller outside the modules."""
    sessions = gateway.get_module_service("mentalhealth", "TherapySessionService")
    if sessions is None:
        raise RuntimeError("the mentalhealth module is unavailable")
    result: dict[str, Any] = sessions.schedule_session(patient_id, therapist_id)
    return result


def build_schedule_session() -> Workflow:
    return (
        AsyncWorkflowBuilder("schedule_session")
        .add_parameter("patient_id", int)
        .add_parameter("therapist_id", int)
        .add_step("schedule", schedule)
        .build()
    )
