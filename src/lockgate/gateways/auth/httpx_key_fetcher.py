"""``HttpxKeySetFetcher``: identity providers' discovery documents and JWKS over httpx, on
the event loop (PyJWT's own JWKS client blocks in urllib), within API Gateway's limits."""

from __future__ import annotations

import asyncio

import httpx

from lockgate.errors import AuthorizerUnavailableError

__all__ = ["JWKS_MAX_BYTES", "JWKS_TIMEOUT", "HttpxKeySetFetcher"]

# API Gateway's own limits for JWT authorizers: an identity provider that a gateway on AWS
# could use works here too, and a slow or huge one cannot hold requests up for longer.
JWKS_TIMEOUT = 1.5
JWKS_MAX_BYTES = 150_000


class HttpxKeySetFetcher:
    """Fetches small JSON documents with one shared connection pool.

    Args:
        timeout: Seconds for the whole request, connecting to the last byte.
        max_bytes: The largest body accepted (decoded).
    """

    def __init__(self, *, timeout: float = JWKS_TIMEOUT, max_bytes: int = JWKS_MAX_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"HttpxKeySetFetcher(timeout={self._timeout}, max_bytes={self._max_bytes})"

    async def fetch(self, url: str) -> bytes:
        """See ``IKeySetFetcher.fetch``."""
        if self._client is None:  # made on first use: build() runs outside the event loop
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                timeout=self._timeout,
                headers={"accept": "application/json"},
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            )
        try:
            async with asyncio.timeout(self._timeout):
                return await self._read(self._client, url)
        except TimeoutError:
            reason = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise AuthorizerUnavailableError(f"cannot fetch {url}: {reason}", url=url)

    async def _read(self, client: httpx.AsyncClient, url: str) -> bytes:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise AuthorizerUnavailableError(
                    f"cannot fetch {url}: it answered {response.status_code}", url=url
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(url)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise self._too_large(url)
                chunks.append(chunk)
            return b"".join(chunks)

    def _too_large(self, url: str) -> AuthorizerUnavailableError:
        return AuthorizerUnavailableError(
            f"cannot fetch {url}: the answer is over {self._max_bytes} bytes", url=url
        )

    async def close(self) -> None:
        """See ``IKeySetFetcher.close``."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
