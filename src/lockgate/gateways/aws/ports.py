"""``ISigV4Signer``: computes the AWS Signature Version 4 a request should carry."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.security.sigv4 import SignedRequest, SigV4Authorization

__all__ = ["ISigV4Signer"]


@runtime_checkable
class ISigV4Signer(Protocol):
    """Signs as the AWS SDKs sign, so a caller's signature can be recomputed and compared."""

    def signature(
        self,
        request: SignedRequest,
        authorization: SigV4Authorization,
        timestamp: str,
        secret_key: str,
    ) -> str:
        """The signature (hex) that ``request`` signed with ``secret_key`` would carry.

        Args:
            request: The request as received (raw path and query, headers, body).
            authorization: Its parsed ``Authorization`` header: the credential scope and the
                names of the signed headers (only those are canonicalised).
            timestamp: The request's time, ``YYYYMMDDTHHMMSSZ`` (its ``X-Amz-Date``).
            secret_key: The secret access key of ``authorization.access_key_id``.

        Returns:
            Lower-case hex, as the ``Signature=`` of an ``Authorization`` header.

        Raises:
            Nothing: a request that cannot be canonicalised yields a signature that does
                not match, which is the caller's refusal to make.

        Side Effects:
            None.

        Note:
            The payload hash is always the SHA-256 of ``request.body`` (a signed
            ``x-amz-content-sha256`` is never taken in its place; checking that it matches,
            to answer with AWS's own message, is the caller's business). Pure computation:
            no external call (botocore's ``SigV4Auth`` canonicalises and signs in memory).
        """
        ...
