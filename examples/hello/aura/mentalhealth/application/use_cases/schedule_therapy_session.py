"""The seed's ``ScheduleTherapySessionUseCase``; only the imports changed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from lockgate.modules import event_bus, gateway

_session_ids = itertools.count(1)


@dataclass
class ScheduleSessionRequest:
    patient_id: int
    therapist_id: int
    starts_at: str = "2026-12-01T10:00:00Z"


@dataclass
class ScheduleSessionResponse:
    success: bool
    session: dict[str, Any] | None = None
    error_message: str | None = None
    notified: list[str] = field(default_factory=list)


class ScheduleTherapySessionUseCase:
    def __init__(self) -> None:
        # Services will be resolved through gateway
        pass

    def execute(self, request: ScheduleSessionRequest) -> ScheduleSessionResponse:
        try:
            # Get user service through gateway
            user_service = gateway.get_module_service("users", "UserService")
            if not user_service:
                return ScheduleSessionResponse(
                    success=False, error_message="User service unavailable"
                )

            # Validate patient exists and is active
            patient = user_service.get_user_by_id(request.patient_id)
            if not patient or not patient.get("is_active"):
                return ScheduleSessionResponse(
                    success=False, error_message="Invalid or inactive patient"
                )

            # Validate therapist exists
            therapist = user_service.get_user_by_id(request.therapist_id)
            if not therapist or not user_service.is_user_therapist(request.therapist_id):
                return ScheduleSessionResponse(success=False, error_message="Invalid therapist")

            # Schedule session (business logic)
            session = self._create_session(request)

            # Notify other modules through event bus
            self._notify_session_scheduled(session)

            return ScheduleSessionResponse(success=True, session=session)

        except Exception as e:
            return ScheduleSessionResponse(success=False, error_message=f"Scheduling failed: {e!s}")

    def _create_session(self, request: ScheduleSessionRequest) -> dict[str, Any]:
        return {
            "session_id": next(_session_ids),
            "patient_id": request.patient_id,
            "therapist_id": request.therapist_id,
            "starts_at": request.starts_at,
        }

    def _notify_session_scheduled(self, session: dict[str, Any]) -> None:
        event_bus.publish("therapy_session.scheduled", session, "mentalhealth")
