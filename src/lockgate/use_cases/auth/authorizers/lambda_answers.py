"""What a Lambda authorizer answered, checked: a simple response (``{"isAuthorized": bool,
"context": {...}}``, payload format 2.0 with ``simple_responses``) or an IAM policy
(``principalId``, ``policyDocument``, ``context``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from lockgate.models.security.authorizers import FunctionAuthorizer
from lockgate.use_cases.auth.authorizers.policy import Policy, parse_policy

__all__ = ["MAX_ANSWER_BYTES", "Decision", "MalformedAnswerError", "parse_answer"]

MAX_ANSWER_BYTES = 8192
"""API Gateway's limit on an authorizer's result; answers are cached, so it bounds memory."""


class MalformedAnswerError(ValueError):
    """The answer does not match the format the authorizer is declared with; the message
    says what is wrong (never the answer's values)."""


class Decision(NamedTuple):
    """An authorizer's verdict for one set of identity values (what is cached).

    Attributes:
        allowed: A simple response's ``isAuthorized`` (unused with a policy).
        policy: The IAM policy, evaluated per request (a cached policy is reused for other
            routes sharing the authorizer, so it is checked against each request's ARN).
        context: The ``context`` object, for the function's event.
        principal_id: The policy's ``principalId``.
    """

    allowed: bool
    policy: Policy | None
    context: Mapping[str, Any] | None
    principal_id: str | None

    def allows(self, arn: str) -> bool:
        return self.policy.allows(arn) if self.policy is not None else self.allowed


def _context(answer: Mapping[str, Any], authorizer: FunctionAuthorizer) -> dict[str, Any] | None:
    context = answer.get("context")
    if context is None:
        return None
    if not isinstance(context, dict):
        raise MalformedAnswerError("context must be an object")
    if authorizer.payload_format == "1.0":
        # REST rules: the context is flattened into requestContext.authorizer, beside
        # principalId and claims, so it holds scalars only and may not use "claims".
        if "claims" in context:
            raise MalformedAnswerError("context may not have a 'claims' key (payload 1.0)")
        if any(isinstance(v, dict | list) for v in context.values()):
            raise MalformedAnswerError("context values must be strings, numbers or booleans")
    return context


def parse_answer(payload: bytes, authorizer: FunctionAuthorizer) -> Decision:
    """The decision in an authorizer's answer.

    Raises:
        MalformedAnswerError: It is not JSON, too large, or not of the declared format.
    """
    if len(payload) > MAX_ANSWER_BYTES:
        raise MalformedAnswerError(f"the answer is over {MAX_ANSWER_BYTES} bytes")
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MalformedAnswerError("the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise MalformedAnswerError("the answer must be a JSON object")
    context = _context(answer, authorizer)
    if authorizer.simple_responses:
        allowed = answer.get("isAuthorized")
        if not isinstance(allowed, bool):
            raise MalformedAnswerError("a simple response needs isAuthorized: true or false")
        return Decision(allowed, None, context, None)
    principal = answer.get("principalId")
    if principal is not None and not isinstance(principal, str):
        raise MalformedAnswerError("principalId must be a string")
    if principal is None and authorizer.payload_format == "1.0":
        raise MalformedAnswerError("an IAM answer needs principalId (payload 1.0)")
    if "policyDocument" not in answer:
        raise MalformedAnswerError("an IAM answer needs policyDocument")
    try:
        policy = parse_policy(answer["policyDocument"])
    except ValueError as exc:
        raise MalformedAnswerError(str(exc)) from None
    return Decision(False, policy, context, principal)
