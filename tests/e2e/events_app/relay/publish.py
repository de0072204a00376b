"""The crash test's workflow: one step that has the sender module publish ``count`` pings."""

from __future__ import annotations

from typing import Any

from lockgate import AsyncWorkflowBuilder, Workflow
from lockgate.modules import gateway


async def publish(count: int) -> dict[str, Any]:
    sender = gateway.require_service("sender", "Sender")
    return {"event_ids": await sender.send(count)}


def build() -> Workflow:
    return (
        AsyncWorkflowBuilder("publish")
        .add_parameter("count", int)
        .add_step("publish", publish)
        .build()
    )
