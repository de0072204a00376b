"""``JwtBearerVerifier``: ``[auth] authorizer``: tokens of a JWT authorizer accepted as
bearer credentials on the Lambda API, the workflow API and the operations endpoints.

The caller becomes ``jwt:<sub>`` (kind ``jwt``), holding the Lockgate scopes among its
token's ``scope`` / ``scp`` claims; any other scope in the token is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lockgate.errors import UnauthorizedError
from lockgate.models.security.principals import Principal, check_scope
from lockgate.use_cases.auth.authorizers.jwt_verifier import JwtRejectedError, JwtVerifier

__all__ = ["JwtBearerVerifier"]

# Three base64url parts, the header a JSON object: a JWS in compact form.
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _lockgate_scope(scope: str) -> bool:
    try:
        check_scope(scope)
    except ValueError:
        return False
    return True


class JwtBearerVerifier:
    """A ``BearerVerifier`` for the JWT authorizer ``[auth] authorizer`` names.

    Args:
        verifier: Returns the named authorizer's checks now (None when none is named):
            asked per token, so a reloaded configuration takes effect at once.
    """

    def __init__(self, verifier: Callable[[], JwtVerifier | None]) -> None:
        self._verifier = verifier

    def claims(self, token: str) -> bool:
        """Whether ``token`` looks like a JWT and an authorizer is named to check it."""
        return self._verifier() is not None and _JWT_SHAPE.fullmatch(token) is not None

    async def principal(self, token: str) -> Principal:
        """The caller the token proves.

        Raises:
            UnauthorizedError: It proves nobody (the message says why, never quoting it).
            AuthorizerUnavailableError: The issuer's keys could not be fetched.
        """
        verifier = self._verifier()
        if verifier is None:
            raise UnauthorizedError("JWTs are not accepted here", presented=True)
        try:
            verified = await verifier.verify(token)
        except JwtRejectedError as rejected:
            raise UnauthorizedError(
                f"the JWT is not valid: {rejected.reason}", presented=True
            ) from None
        subject = verified.claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise UnauthorizedError("the JWT is not valid: it has no sub claim", presented=True)
        scopes = frozenset(s for s in verified.scopes if _lockgate_scope(s))
        return Principal(f"jwt:{subject}", "jwt", scopes)
