"""A billing module nobody declared as a dependency: calls to it are refused."""

from __future__ import annotations

from typing import Any


class BillingService:
    def charge_session(self, session_id: int) -> dict[str, Any]:
        return {"session_id": session_id, "charged": True}


def get_services() -> dict[str, Any]:
    return {"BillingService": BillingService}
