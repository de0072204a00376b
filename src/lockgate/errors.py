"""Lockgate's exceptions: one root, structured fields, a ``retryable`` flag.

The tree::

    LockgateError                   root; ``code``, ``retryable``, ``fields``
    ├── ConfigError                 a configuration value is invalid (names the key)
    ├── FunctionNotFoundError       no function by that name
    ├── RouteNotFoundError          no route matches the method and path
    ├── InvalidRequestError         a request is malformed (bad JSON, bad header)
    ├── RequestTooLargeError        a request body is over the limit
    ├── TooManyRequestsError        the wait queue is full or would outlast the deadline
    ├── InvocationError             an invocation could not complete
        ├── InvocationTimeoutError  the function's deadline passed; the worker was killed
        ├── WorkerCrashedError      the worker process died or broke the protocol
        ├── FunctionInitError       the handler failed to import or initialise
        ├── CircuitOpenError        the function's circuit breaker is open
        ├── PoolClosedError         the function's pool is shutting down
        ├── HandlerResponseError    the handler's output cannot be mapped to a response
        └── RemoteInvocationError   a remote backend (AWS Lambda) failed or refused the call
    ├── AsyncInvocationNotFoundError  no Event invocation by that request id
    ├── DeliveryNotFoundError       no event delivery by that id (event_id:subscriber)
    ├── JobNotFoundError            no job definition or job run by that name or id
    ├── JobRunnerError              a job runner (local processes, AWS Batch) failed
    ├── WorkflowDefinitionError     a workflow being built is invalid (names the step)
    ├── WorkflowNotFoundError       no workflow registered by that id
    ├── WorkflowAlreadyRegisteredError  a second workflow under a registered id
    ├── InvalidParametersError      a run's parameters are missing, unknown or mistyped
    ├── RunNotFoundError            no run by that id
    ├── IdempotencyConflictError    an idempotency key reused for a different request
    ├── RunFinishedError            the run already finished (it cannot be cancelled)
    ├── UnauthorizedError           no credential, or one that is not valid (401)
    ├── ForbiddenError              a valid credential without the scope asked for (403)
    ├── AuthorizerUnavailableError  an identity provider's keys could not be fetched; retryable
    ├── CredentialExistsError       a token or API key by that name exists already
    ├── CredentialNotFoundError     no token or API key by that name
    ├── ResourceNotFoundError       a step asked for a resource its run was not given
    ├── ResourceConfigError         a resource reference is malformed (names the key)
    ├── ResourceUnavailableError    a resource could not be created or reached
        └── ResourceTimeoutError    connecting took longer than its connect_timeout
    ├── RunStoreError               the run store failed (disk, database); retryable
    ├── SecretNotFoundError         no secret by that name
    ├── SecretDecryptionError       wrong master key or a corrupted ciphertext (names the secret)
    ├── SecretStoreError            the secret store failed (disk, database); retryable
    ├── SecretsReadOnlyError        the secrets backend in use (the environment) cannot be written
    ├── ModuleCallError             a call between modules names no such module, service or method
        └── ModuleDependencyError   the caller did not declare the module it called
    ├── ServiceUnavailableError     a module's service could not be made
    ├── MasterKeyRotatedError       the secrets moved to a master key this gateway lacks
    └── MasterKeyError              the master key is missing, malformed or not private

``http_status`` at the bottom is the one table from these errors to HTTP status codes.
Messages never contain secret values or payloads, only names and shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AsyncInvocationNotFoundError",
    "AuthorizerUnavailableError",
    "CircuitOpenError",
    "ConfigError",
    "CredentialExistsError",
    "CredentialNotFoundError",
    "DeliveryNotFoundError",
    "ForbiddenError",
    "FunctionInitError",
    "FunctionNotFoundError",
    "HandlerResponseError",
    "IdempotencyConflictError",
    "InvalidParametersError",
    "InvalidRequestError",
    "InvocationError",
    "InvocationTimeoutError",
    "JobNotFoundError",
    "JobRunnerError",
    "LockgateError",
    "MasterKeyError",
    "MasterKeyRotatedError",
    "ModuleCallError",
    "ModuleDependencyError",
    "PoolClosedError",
    "RemoteInvocationError",
    "RequestTooLargeError",
    "ResourceConfigError",
    "ResourceNotFoundError",
    "ResourceTimeoutError",
    "ResourceUnavailableError",
    "RouteNotFoundError",
    "RunFinishedError",
    "RunNotFoundError",
    "RunStoreError",
    "SecretDecryptionError",
    "SecretNotFoundError",
    "SecretStoreError",
    "SecretsReadOnlyError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "WorkerCrashedError",
    "WorkflowAlreadyRegisteredError",
    "WorkflowDefinitionError",
    "WorkflowNotFoundError",
    "http_status",
]


class LockgateError(Exception):
    """Root of every error Lockgate raises on purpose.

    Attributes:
        code: A stable, machine-readable name (AWS-style where one exists).
        retryable: True when repeating the same call later may succeed without any change.
        fields: Structured context (names, limits, counts), safe to log and to return.
    """

    code = "LockgateError"
    retryable = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: Mapping[str, Any] = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(LockgateError, ValueError):
    """A configuration value is invalid; ``fields["key"]`` names it."""

    code = "ConfigError"


class FunctionNotFoundError(LockgateError, LookupError):
    code = "ResourceNotFoundException"


class RouteNotFoundError(LockgateError, LookupError):
    code = "RouteNotFound"


class InvalidRequestError(LockgateError, ValueError):
    code = "InvalidRequestContentException"


class RequestTooLargeError(LockgateError, ValueError):
    code = "RequestTooLargeException"


class TooManyRequestsError(LockgateError):
    """Shed before the handler ran; ``retry_after`` is a whole number of seconds."""

    code = "TooManyRequestsException"
    retryable = True

    def __init__(self, message: str, *, retry_after: int, **fields: Any) -> None:
        super().__init__(message, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class InvocationError(LockgateError):
    """An invocation could not complete.

    ``counts_as_failure`` tells the circuit breaker whether this is an infrastructure
    failure (worker crash, start failure) rather than the handler's own doing.
    """

    code = "ServiceException"
    counts_as_failure = False


class InvocationTimeoutError(InvocationError):
    code = "Sandbox.Timedout"


class WorkerCrashedError(InvocationError):
    """The worker died or broke the protocol.

    ``reached_handler`` is False only when the request provably never reached the handler
    (the worker was gone before the request was written); only then is a retry safe.
    """

    code = "Runtime.ExitError"
    counts_as_failure = True

    def __init__(self, message: str, *, reached_handler: bool, **fields: Any) -> None:
        super().__init__(message, reached_handler=reached_handler, **fields)
        self.reached_handler = reached_handler
        self.retryable = not reached_handler


class FunctionInitError(InvocationError):
    """The handler could not be imported or initialised; ``error_type`` is AWS-style."""

    code = "Runtime.ImportModuleError"
    counts_as_failure = True

    def __init__(
        self, message: str, *, error_type: str = "Runtime.ImportModuleError", **fields: Any
    ) -> None:
        super().__init__(message, error_type=error_type, **fields)
        self.error_type = error_type


class CircuitOpenError(InvocationError):
    code = "ServiceException"
    retryable = True

    def __init__(self, message: str, *, retry_after: int, **fields: Any) -> None:
        super().__init__(message, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class PoolClosedError(InvocationError):
    code = "ServiceException"
    retryable = True


class HandlerResponseError(InvocationError):
    code = "HandlerResponseError"


class RemoteInvocationError(InvocationError):
    """A remote backend (AWS Lambda) failed the call or refused it. Callers see a
    ``ServiceException``: ``remote_code`` keeps the backend's own error code (for logs and
    the gateway's code), so a caller is never told ``ResourceNotFoundException`` about a
    function the gateway does have. ``retryable``: safe to send the same invocation again."""

    counts_as_failure = True

    def __init__(
        self,
        message: str,
        *,
        code: str = "ServiceException",
        retryable: bool = False,
        **fields: Any,
    ) -> None:
        super().__init__(message, remote_code=code, **fields)
        self.remote_code = code
        self.retryable = retryable


class AsyncInvocationNotFoundError(LockgateError, LookupError):
    code = "AsyncInvocationNotFound"


class DeliveryNotFoundError(LockgateError, LookupError):
    code = "DeliveryNotFound"


class JobNotFoundError(LockgateError, LookupError):
    code = "JobNotFound"


class JobRunnerError(LockgateError):
    """A job runner refused or failed a call; ``retryable`` when trying again later may work
    (throttling, a service outage)."""

    code = "JobRunnerError"

    def __init__(self, message: str, *, retryable: bool = False, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retryable = retryable


class WorkflowDefinitionError(LockgateError, ValueError):
    """A workflow being built is invalid; ``fields["step"]`` names the step at fault."""

    code = "WorkflowDefinitionError"


class WorkflowNotFoundError(LockgateError, LookupError):
    code = "WorkflowNotFound"


class WorkflowAlreadyRegisteredError(LockgateError, ValueError):
    code = "WorkflowAlreadyRegistered"


class InvalidParametersError(LockgateError, ValueError):
    """A run's parameters do not match the workflow's declaration; ``fields["problems"]``
    lists each one."""

    code = "InvalidParameters"


class RunNotFoundError(LockgateError, LookupError):
    code = "RunNotFound"


class IdempotencyConflictError(LockgateError):
    """The idempotency key already belongs to a run of a different request."""

    code = "IdempotencyConflict"


class RunFinishedError(LockgateError):
    code = "RunFinished"


class UnauthorizedError(LockgateError):
    """No credential was presented where one is needed, or the one presented is not valid
    (unknown, revoked, expired, badly signed). Says which, never echoes it."""

    code = "Unauthorized"


class ForbiddenError(LockgateError):
    """The caller is known but may not do this: ``fields["scope"]`` names what it lacks."""

    code = "Forbidden"


class AuthorizerUnavailableError(LockgateError):
    """A JWT authorizer has no keys to check a token with: its issuer's discovery document
    or key set could not be fetched (the message names the URL and why, never a token)."""

    code = "AuthorizerUnavailable"
    retryable = True


class CredentialExistsError(LockgateError):
    code = "CredentialExists"


class CredentialNotFoundError(LockgateError, LookupError):
    code = "CredentialNotFound"


class ResourceNotFoundError(LockgateError, LookupError, ValueError):
    """A run names a resource nobody supplies: not in its request, not shared, or an
    unregistered ``"@name"``. A ``ValueError`` too, as the seed's callers catch it."""

    code = "ResourceNotFound"


class ResourceConfigError(LockgateError, ValueError):
    """A resource reference is malformed: an unknown type, a missing or mistyped config key
    (``fields["key"]`` names it), or credentials of the wrong shape."""

    code = "ResourceConfigError"


class ResourceUnavailableError(LockgateError):
    """A resource could not be created or reached (refused, unreachable, bad credentials).
    The message names the resource and never holds a password."""

    code = "ResourceUnavailable"
    retryable = True


class ResourceTimeoutError(ResourceUnavailableError):
    """Connecting to a resource took longer than its ``connect_timeout``."""

    code = "ResourceTimeout"


class RunStoreError(LockgateError):
    code = "RunStoreError"
    retryable = True


class SecretNotFoundError(LockgateError, LookupError):
    code = "SecretNotFound"


class SecretDecryptionError(LockgateError):
    """A secret cannot be decrypted: it was stored under another master key, or its
    ciphertext or wrapped key fails authentication. Names the secret, never its value."""

    code = "SecretDecryptionError"


class SecretStoreError(LockgateError):
    code = "SecretStoreError"
    retryable = True


class ModuleCallError(LockgateError, ValueError):
    """A call between modules names a module, service or method that does not exist."""

    code = "ModuleCallError"


class ModuleDependencyError(ModuleCallError):
    """A module called a module it did not declare among its ``dependencies``; the message
    names the source, the target and the allowed list."""

    code = "ModuleDependencyError"


class ServiceUnavailableError(LockgateError, LookupError):
    """A module's service could not be made (its module failed to load, or its constructor
    raised); the message says why."""

    code = "ServiceUnavailable"
    retryable = True


class SecretsReadOnlyError(LockgateError):
    """The secrets backend in use (the environment) cannot be written."""

    code = "SecretsReadOnly"


class MasterKeyError(LockgateError):
    """The master key is missing or invalid, or its key file is readable by others."""

    code = "MasterKeyError"


class MasterKeyRotatedError(LockgateError):
    """The secret store's master key is one this gateway does not hold (a rotation
    happened since it started, or it was given another key): a write is refused, and a
    secret no held key opens cannot be read. Nothing was written; ``fields`` name the key
    ids (fingerprints, never keys)."""

    code = "MasterKeyRotated"


# The one table from errors to HTTP status codes.
# Looked up by class hierarchy: an error takes the status of its nearest listed class, so
# a subclass listed anywhere here wins over its base, whatever the order.
_HTTP_STATUS: Mapping[type[LockgateError], int] = {
    ConfigError: 500,
    FunctionNotFoundError: 404,
    RouteNotFoundError: 404,
    InvalidRequestError: 400,
    RequestTooLargeError: 413,
    TooManyRequestsError: 429,
    InvocationTimeoutError: 504,
    WorkerCrashedError: 502,
    FunctionInitError: 502,
    HandlerResponseError: 502,
    RemoteInvocationError: 502,
    AsyncInvocationNotFoundError: 404,
    DeliveryNotFoundError: 404,
    JobNotFoundError: 404,
    JobRunnerError: 502,
    CircuitOpenError: 503,
    PoolClosedError: 503,
    WorkflowDefinitionError: 422,
    WorkflowNotFoundError: 404,
    WorkflowAlreadyRegisteredError: 409,
    InvalidParametersError: 422,
    RunNotFoundError: 404,
    IdempotencyConflictError: 409,
    RunFinishedError: 409,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    AuthorizerUnavailableError: 503,
    CredentialExistsError: 409,
    CredentialNotFoundError: 404,
    ResourceNotFoundError: 422,
    ResourceConfigError: 422,
    ResourceTimeoutError: 504,
    ResourceUnavailableError: 503,
    RunStoreError: 503,
    SecretNotFoundError: 404,
    # Never a 500: these are states of the stored secrets or of the gateway's key, not bugs.
    # A key the store moved past and a stored secret no held key opens conflict with the
    # store's state (409: a restart with the new key, or replacing the secret, resolves it).
    MasterKeyRotatedError: 409,
    SecretDecryptionError: 409,
    SecretStoreError: 503,
    SecretsReadOnlyError: 409,
    ModuleDependencyError: 403,
    ModuleCallError: 404,
    ServiceUnavailableError: 503,
    # The gateway's own key is unusable (its key file re-read as malformed or not private):
    # the service cannot do secrets until an operator acts.
    MasterKeyError: 503,
}


def http_status(error: LockgateError) -> int:
    """The HTTP status code that reports ``error``: its nearest class's in the table (walking
    its class hierarchy from the most specific); 500 for anything unlisted."""
    for error_type in type(error).__mro__:
        status = _HTTP_STATUS.get(error_type)
        if status is not None:
            return status
    return 500
