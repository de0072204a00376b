"""The mental-health module's services (the seed's ``aura.mentalhealth.domain.services``)."""

from __future__ import annotations

from typing import Any

from lockgate.modules import gateway

from ..application.use_cases.schedule_therapy_session import (
    ScheduleSessionRequest,
    ScheduleTherapySessionUseCase,
)


class TherapySessionService:
    def schedule_session(self, patient_id: int, therapist_id: int) -> dict[str, Any]:
        # Validate users exist using inter-module call
        patient = gateway.inter_module_call(
            "mentalhealth", "users", "UserService", "get_user_by_id", patient_id
        )
        if not patient:
            raise ValueError("Patient not found")
        response = ScheduleTherapySessionUseCase().execute(
            ScheduleSessionRequest(patient_id=patient_id, therapist_id=therapist_id)
        )
        return {
            "success": response.success,
            "session": response.session,
            "error_message": response.error_message,
        }

    def charge_session(self, session_id: int) -> Any:
        # billing is not among mentalhealth's dependencies: the gateway refuses this.
        return gateway.inter_module_call(
            "mentalhealth", "billing", "BillingService", "charge_session", session_id
        )


class DisorderService:
    def list_disorders(self) -> list[str]:
        return ["anxiety", "depression"]


def get_services() -> dict[str, Any]:
    return {"TherapySessionService": TherapySessionService, "DisorderService": DisorderService}
