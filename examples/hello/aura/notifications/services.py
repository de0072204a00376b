"""The notifications module (the seed's ``aura/notifications/services.py``): it reacts to
``therapy_session.scheduled`` by notifying the patient and the therapist."""

from __future__ import annotations

import logging
from typing import Any

from lockgate.modules import event_bus, gateway

logger = logging.getLogger(__name__)

# What was sent, newest last (an example has no mail server): (recipient, subject).
SENT: list[tuple[str, str]] = []


class EmailService:
    def send(self, to: str, subject: str) -> None:
        SENT.append((to, subject))


class SMSService:
    def send(self, to: str, text: str) -> None:
        SENT.append((to, text))


class NotificationService:
    def __init__(self) -> None:
        # Subscribe to relevant events
        event_bus.subscribe(
            "therapy_session.scheduled", self.handle_session_scheduled, "notifications"
        )
        self.email = EmailService()

    def handle_session_scheduled(self, event_data: dict[str, Any]) -> None:
        """Handle therapy session scheduled event."""
        try:
            session_id = event_data.get("session_id")
            patient_id = event_data.get("patient_id")
            therapist_id = event_data.get("therapist_id")

            # Get user details through gateway
            user_service = gateway.get_module_service("users", "UserService")
            if not user_service:
                logger.error("Cannot send notifications: User service unavailable")
                return

            patient = user_service.get_user_by_id(patient_id)
            therapist = user_service.get_user_by_id(therapist_id)

            if patient and therapist:
                # Send confirmation emails
                self.send_session_confirmation(patient, session_id)
                self.send_session_notification(therapist, session_id)

        except Exception as e:
            logger.error(f"Failed to handle session scheduled event: {e}")

    def send_session_confirmation(self, patient: dict[str, Any], session_id: Any) -> None:
        self.email.send(patient["email"], f"Your session {session_id} is booked")

    def send_session_notification(self, therapist: dict[str, Any], session_id: Any) -> None:
        self.email.send(therapist["email"], f"New session {session_id} in your calendar")


def get_services() -> dict[str, Any]:
    return {
        "EmailService": EmailService,
        "SMSService": SMSService,
        "NotificationService": NotificationService,
    }
