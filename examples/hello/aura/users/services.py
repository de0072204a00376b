"""The users module's services (the seed's ``aura/users/services.py``)."""

from __future__ import annotations

from typing import Any

_USERS: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Ann", "email": "ann@example.org", "is_active": True, "role": "patient"},
    2: {
        "id": 2,
        "name": "Dr Bo",
        "email": "bo@example.org",
        "is_active": True,
        "role": "therapist",
    },
    3: {"id": 3, "name": "Cy", "email": "cy@example.org", "is_active": False, "role": "patient"},
}


class UserService:
    def get_user_by_id(self, user_id: int) -> dict[str, Any] | None:
        user = _USERS.get(user_id)
        return dict(user) if user is not None else None

    def get_user_profile(self, user_id: int) -> dict[str, Any] | None:
        return self.get_user_by_id(user_id)

    def is_user_therapist(self, user_id: int) -> bool:
        user = _USERS.get(user_id)
        return user is not None and user["role"] == "therapist"

    def health(self) -> bool:
        return bool(_USERS)


class AuthenticationService:
    def authenticate_user(self, email: str, password: str) -> bool:
        return any(u["email"] == email for u in _USERS.values()) and password == "demo"


# Registration function called by gateway
def get_services() -> dict[str, Any]:
    return {
        "UserService": UserService,
        "AuthenticationService": AuthenticationService,
    }
