"""JWT checks against a real identity provider on loopback: keys fetched with httpx (JWKS,
OpenID discovery), rotation, a rate-limited refetch under a flood of unknown ``kid``
values, failures that keep the keys held, and every forged or stale token refused."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from lockgate.errors import AuthorizerUnavailableError
from lockgate.gateways.auth.httpx_key_fetcher import HttpxKeySetFetcher
from lockgate.models.security.authorizers import JwtAuthorizer
from lockgate.use_cases.auth.authorizers import jwt_verifier
from lockgate.use_cases.auth.authorizers.jwt_verifier import (
    LEEWAY,
    JwtRejectedError,
    JwtVerifier,
)
from lockgate.use_cases.auth.authorizers.signing_keys import SigningKeys
from tests.jwt_support import AUDIENCE, IdentityProvider, SigningKey, forged_hs256, unsigned


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider(SigningKey.make("key-1"), SigningKey.make("ec-1", "ES256")) as server:
        yield server


@pytest.fixture
async def fetcher() -> AsyncIterator[HttpxKeySetFetcher]:
    made = HttpxKeySetFetcher()
    yield made
    await made.close()


def verifier_for(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher, clock: Clock, *, discover: bool = False
) -> JwtVerifier:
    authorizer = JwtAuthorizer(
        "users",
        issuer=idp.issuer,
        audience=(AUDIENCE, "other-api"),
        jwks_url=None if discover else idp.jwks_url,
    )
    return JwtVerifier(authorizer, SigningKeys(authorizer, fetcher, clock=clock))


async def reason(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(JwtRejectedError) as caught:
        await verifier.verify(token)
    assert token not in caught.value.reason
    return caught.value.reason


async def test_good_rsa_and_ec_tokens_pass_with_their_claims_and_scopes(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    verifier = verifier_for(idp, fetcher, Clock())
    verified = await verifier.verify(idp.token())
    assert verified.claims["sub"] == "user-1"
    assert verified.scopes == ("orders:read", "profile")
    ec_token = idp.token(idp.keys[1], scope=None, scp=["a", "b"])
    assert (await verifier.verify(ec_token)).scopes == ("a", "b")
    for algorithm in ("RS384", "RS512", "ES384"):
        key = SigningKey.make(f"k-{algorithm}", algorithm)
        idp.keys.append(key)
        fresh = verifier_for(idp, fetcher, Clock())
        assert (await fresh.verify(idp.token(key))).claims["sub"] == "user-1"
    assert idp.hits["/jwks.json"] == 4  # each verifier fetched once


async def test_every_bad_token_is_refused_with_its_reason(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    verifier = verifier_for(idp, fetcher, Clock())
    now = int(time.time())
    key = idp.keys[0]
    cases = {
        "the token has expired": idp.token(exp=now - 120),
        "the token is not valid yet": idp.token(nbf=now + 120),
        "the token does not have a valid issuer": idp.token(iss="https://elsewhere.example/"),
        "the token does not have a valid audience": idp.token(aud="someone-else"),
        "the token has no exp claim": idp.token(exp=None),
        "the token's algorithm is not one of RS256, RS384, RS512, ES256, ES384": unsigned(
            idp.claims(), key.kid
        ),
        "the token is not a JWT": "not-a-jwt",
    }
    for expected, token in cases.items():
        assert await reason(verifier, token) == expected
    assert "algorithm" in await reason(verifier, forged_hs256(idp.claims(), key))
    # Another key's signature under this kid.
    impostor = SigningKey.make(key.kid)
    assert await reason(verifier, idp.token(impostor)) == "the token's signature is not valid"
    # An EC key named by an RSA token's header: refused, never tried as the wrong type.
    mixed = SigningKey.make(idp.keys[1].kid)
    assert "kid" in await reason(verifier, idp.token(mixed))


async def test_aud_may_be_an_array_and_client_id_counts_only_without_aud(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    verifier = verifier_for(idp, fetcher, Clock())
    assert await verifier.verify(idp.token(aud=["x", "other-api"]))
    assert await verifier.verify(idp.token(aud=None, client_id=AUDIENCE))
    both = idp.token(aud="x", client_id=AUDIENCE)
    assert await reason(verifier, both) == "the token does not have a valid audience"


async def test_a_small_clock_skew_is_allowed(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    verifier = verifier_for(idp, fetcher, Clock())
    now = int(time.time())
    assert await verifier.verify(idp.token(exp=now - 10, nbf=now + 10, iat=now + 10))


async def test_a_rotated_key_is_fetched_and_a_kid_flood_fetches_at_most_once_per_interval(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    clock = Clock()
    verifier = verifier_for(idp, fetcher, clock)
    assert await verifier.verify(idp.token())
    assert idp.hits["/jwks.json"] == 1

    for _ in range(200):  # made-up kids, all within the refetch interval
        forged = idp.token(SigningKey(secrets.token_hex(8), "RS256", idp.keys[0].private))
        assert "kid" in await reason(verifier, forged)
    assert idp.hits["/jwks.json"] == 1

    rotated = SigningKey.make("key-2")
    idp.keys = [rotated]
    # Too soon after the last fetch: the new kid is not known yet.
    assert "kid" in await reason(verifier, idp.token(rotated))
    clock.now += 10
    assert (await verifier.verify(idp.token(rotated))).claims["sub"] == "user-1"
    assert idp.hits["/jwks.json"] == 2
    for _ in range(50):
        forged = idp.token(SigningKey(secrets.token_hex(8), "RS256", rotated.private))
        await reason(verifier, forged)
    assert idp.hits["/jwks.json"] == 2
    clock.now += 10
    await reason(verifier, idp.token(SigningKey("another", "RS256", rotated.private)))
    assert idp.hits["/jwks.json"] == 3


async def test_a_failed_refresh_keeps_the_keys_held(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    clock = Clock()
    verifier = verifier_for(idp, fetcher, clock)
    good = idp.token()
    assert await verifier.verify(good)
    idp.failing = True
    clock.now += 4000  # past the keys' age: a refresh starts, and fails
    assert await verifier.verify(good)
    await verifier.keys.settle()
    assert idp.hits["/jwks.json"] == 2
    assert await verifier.verify(good)  # too soon to try again: held keys serve
    clock.now += 20
    assert await verifier.verify(good)
    await verifier.keys.settle()
    assert idp.hits["/jwks.json"] == 3
    idp.failing = False
    clock.now += 20
    assert await verifier.verify(good)
    await verifier.keys.settle()
    assert idp.hits["/jwks.json"] == 4
    clock.now += 20  # fresh again: no fetch
    assert await verifier.verify(good)
    assert idp.hits["/jwks.json"] == 4


async def test_a_remembered_token_is_checked_again_once_the_keys_it_was_checked_with_go(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    clock = Clock()
    verifier = verifier_for(idp, fetcher, clock)
    good = idp.token()
    assert await verifier.verify(good)
    idp.keys = [SigningKey.make("key-2")]  # the issuer withdraws key-1
    assert await verifier.verify(good)  # the keys held are the ones it was checked with
    clock.now += 4000  # the keys are old: a refresh starts in the background
    assert await verifier.verify(good)
    await verifier.keys.settle()
    assert idp.hits["/jwks.json"] == 2
    # The keys held changed: the token is checked again, and key-1 is gone.
    assert "kid" in await reason(verifier, good)


async def test_a_remembered_token_past_its_exp_is_not_taken_unchecked(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    now = time.time()
    unix = Clock()
    unix.now = now
    authorizer = JwtAuthorizer(
        "users", issuer=idp.issuer, audience=(AUDIENCE,), jwks_url=idp.jwks_url
    )
    verifier = JwtVerifier(authorizer, SigningKeys(authorizer, fetcher, clock=Clock()), clock=unix)
    token = idp.token(exp=int(now) + 60)
    assert await verifier.verify(token)
    remembered = verifier._remembered[token]
    unix.now = now + 60 + LEEWAY - 1
    assert await verifier.verify(token)
    assert verifier._remembered[token] is remembered  # taken from memory
    unix.now = now + 60 + LEEWAY + 1  # past exp, as the verifier's clock tells it
    # Checked again (PyJWT's clock, the real one, still finds it valid) and remembered anew.
    assert await verifier.verify(token)
    assert verifier._remembered[token] is not remembered


async def test_the_memory_of_verified_tokens_is_bounded(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwt_verifier, "REMEMBERED_TOKENS", 3)
    verifier = verifier_for(idp, fetcher, Clock())
    tokens = [idp.token(sub=f"user-{n}") for n in range(5)]
    for token in tokens:
        assert await verifier.verify(token)
    assert list(verifier._remembered) == tokens[2:]  # the oldest forgotten first
    long = idp.token(padding="x" * jwt_verifier.REMEMBERED_BYTES)
    assert await verifier.verify(long)
    assert long not in verifier._remembered
    # Refused tokens are never remembered.
    await reason(verifier, idp.token(aud="someone-else"))
    assert len(verifier._remembered) == 3


async def test_no_keys_ever_is_the_gateways_failure_not_the_tokens(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    idp.failing = True
    verifier = verifier_for(idp, fetcher, Clock())
    with pytest.raises(AuthorizerUnavailableError, match="no signing keys yet"):
        await verifier.verify(idp.token())


async def test_keys_are_found_through_openid_discovery(
    idp: IdentityProvider, fetcher: HttpxKeySetFetcher
) -> None:
    verifier = verifier_for(idp, fetcher, Clock(), discover=True)
    assert await verifier.verify(idp.token())
    assert idp.hits["/.well-known/openid-configuration"] == 1
    assert idp.hits["/jwks.json"] == 1


def test_issuer_and_key_urls_must_be_https_unless_loopback() -> None:
    for url in ("http://login.example.com/", "http://10.0.0.1/", "ftp://x/", "https://u:p@x/"):
        with pytest.raises(ValueError, match="issuer must"):
            JwtAuthorizer("users", issuer=url, audience=("a",))
    for url in ("https://login.example.com/", "http://127.0.0.1:9/", "http://[::1]/"):
        assert JwtAuthorizer("users", issuer=url, audience=("a",)).issuer == url


async def test_the_fetcher_refuses_oversized_and_non_200_answers(
    idp: IdentityProvider,
) -> None:
    small = HttpxKeySetFetcher(max_bytes=100)
    try:
        with pytest.raises(AuthorizerUnavailableError, match="over 100 bytes"):
            await small.fetch(idp.jwks_url)
        with pytest.raises(AuthorizerUnavailableError, match="answered 404"):
            await small.fetch(idp.url + "/missing")
    finally:
        await small.close()
