"""``Authenticator``: who a request's ``Authorization`` header says is calling.

It knows the bearer credentials (``Authorization: Bearer <secret>``): the operator's
``admin_token``, the local admin token ``lockgate serve`` writes beside the run store, the
tokens in the credential store and, when ``[auth] authorizer`` names one, JWTs from that
identity provider. Whether a surface admits anonymous callers, and what each endpoint needs,
is the caller's business (``controllers/http/auth/access.py``). AWS SigV4 signatures cover the
whole request, so the access gate asks ``signed_principal`` for them (``SigV4Authenticator``)
where ``[aws_credentials]`` are declared.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from lockgate.errors import UnauthorizedError
from lockgate.gateways.interfaces import IBearerVerifier
from lockgate.models.security.principals import ADMIN, CredentialKind, Principal
from lockgate.models.security.sigv4 import SignedRequest
from lockgate.use_cases.auth.aws_signatures import SigV4Authenticator
from lockgate.use_cases.auth.credentials import PREFIXES, CredentialService

__all__ = ["AWS_SIGV4", "Authenticator", "BearerVerifier", "StaticToken"]

AWS_SIGV4 = "AWS4-HMAC-SHA256"


BearerVerifier = IBearerVerifier
"""The name before ports were ``I``-named (``lockgate.gateways.interfaces.IBearerVerifier``)."""


class StaticToken:
    """A token fixed at start-up (``admin_token``, the local admin token): compared in
    constant time, by hash, so its length does not show either."""

    __slots__ = ("_digest", "principal")

    def __init__(self, secret: str, principal: Principal) -> None:
        self._digest = hashlib.sha256(secret.encode()).digest()
        self.principal = principal

    def __repr__(self) -> str:
        return f"StaticToken({self.principal.name!r})"

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(self._digest, hashlib.sha256(presented.encode()).digest())

    @classmethod
    def admin(cls, secret: str, name: str, kind: str) -> StaticToken:
        return cls(secret, Principal(name, kind, frozenset({ADMIN})))


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal``.

    Args:
        credentials: The stored tokens; None where the gateway keeps none (a test app).
        static: Tokens fixed at start-up (``admin_token``, the local admin token).
        verifiers: Other bearer kinds (JWT authorizers).
        signatures: Checks AWS SigV4 signatures against ``[aws_credentials]``.
    """

    def __init__(
        self,
        credentials: CredentialService | None,
        *,
        static: Iterable[StaticToken] = (),
        verifiers: Sequence[IBearerVerifier] = (),
        signatures: SigV4Authenticator | None = None,
    ) -> None:
        self.credentials = credentials
        self._static = tuple(static)
        self._verifiers = tuple(verifiers)
        self.signatures = signatures

    @property
    def checks_signatures(self) -> bool:
        """Whether AWS signatures are checked (some ``[aws_credentials]`` are declared);
        when not, one stands for no credential where anonymous callers are let in."""
        return self.signatures is not None and self.signatures.configured

    async def signed_principal(self, authorization: str, request: SignedRequest) -> Principal:
        """The caller an AWS SigV4-signed ``request`` proves (see ``SigV4Authenticator``).

        Raises:
            UnauthorizedError: It proves nobody; ``aws_code`` names AWS's exception.
            SecretStoreError: The key's secret cannot be read.
            ConfigError: botocore is not installed.
        """
        if self.signatures is None:
            raise UnauthorizedError(
                "this gateway declares no [aws_credentials]", presented=True, unverifiable=True
            )
        return await self.signatures.principal(authorization, request)

    @property
    def configured(self) -> bool:
        """Whether any credential other than the local admin token can be presented."""
        return bool(self._verifiers) or any(t.principal.kind != "local_admin" for t in self._static)

    async def principal(self, authorization: str | None) -> Principal | None:
        """The caller, or None when no credential was presented.

        Raises:
            UnauthorizedError: A credential was presented and proves nobody (the message
                says why, never echoing it).
            RunStoreError: The credential store failed.
        """
        if authorization is None:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme == AWS_SIGV4:
            # boto3 and the AWS CLI always sign, with whatever keys they have ("local"):
            # without [aws_credentials] there is nothing to check them against, so the
            # signature stands for no credential where anonymous callers are let in. With
            # them, the gate checks signatures on the Lambda API (signed_principal) only.
            raise UnauthorizedError(
                "AWS signatures are checked only on the Lambda API, and only for the keys "
                "of [aws_credentials]",
                presented=True,
                unverifiable=True,
            )
        if scheme.lower() != "bearer":
            raise UnauthorizedError(
                f"unsupported Authorization scheme {scheme[:20]!r}: send "
                "'Authorization: Bearer <token>'",
                presented=True,
            )
        if not token:
            raise UnauthorizedError("the Authorization header has no bearer token", presented=True)
        for static in self._static:
            if static.matches(token):
                return static.principal
        if self.credentials is not None and token.startswith(PREFIXES[CredentialKind.TOKEN]):
            found = await self.credentials.authenticate(token, CredentialKind.TOKEN)
            if found is not None:
                return found.principal()
            raise UnauthorizedError(
                "the bearer token is not valid (unknown or revoked)", presented=True
            )
        for verifier in self._verifiers:
            if verifier.claims(token):
                return await verifier.principal(token)
        raise UnauthorizedError(
            "the bearer token is not valid (unknown or revoked)", presented=True
        )
