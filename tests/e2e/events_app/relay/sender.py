"""The sender module: publishes pings (durably recorded before ``send`` returns)."""

from __future__ import annotations

from typing import Any

from lockgate.modules import event_bus


class Sender:
    async def send(self, count: int) -> list[str]:
        return [await event_bus.publish("ping", {"n": n}, "sender") for n in range(count)]


def get_services() -> dict[str, Any]:
    return {"Sender": Sender}
