"""``AWSLambdaInvocationBackend``: functions declared with ``backend = "aws-lambda"`` run on
AWS Lambda (``lambda.invoke``) instead of a local worker pool, with the same results.

The function's ``timeout`` stays the one deadline: AWS throttling is retried with backoff
inside it, and when it passes while AWS runs the function the caller gets the local pools'
timeout. AWS's errors become Lockgate's: a throttle that outlasts the retries is a 429, an
unknown function or a refusal a ``RemoteInvocationError``; only failures that provably never
reached AWS are marked retryable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lockgate.errors import (
    InvocationTimeoutError,
    LockgateError,
    RemoteInvocationError,
    TooManyRequestsError,
)
from lockgate.gateways.aws.lambda_reply import lambda_reply
from lockgate.gateways.aws.support import (
    NEVER_SENT,
    AWSRetry,
    BlockingCalls,
    Flight,
    LazyClient,
    client_config,
    error_code,
    error_message,
    is_throttling,
    retry_after,
)
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import InvocationResponseTypeDef

__all__ = ["AWSLambdaInvocationBackend"]

logger = logging.getLogger(__name__)

# AWS Lambda runs a function for 900 s at most; the socket must stay open that long.
_LAMBDA_MAX_SECONDS = 900.0
# Codes after which AWS provably did not run the function and may accept it shortly.
_NOT_READY_CODES = frozenset({"ResourceConflictException", "ResourceNotReadyException"})
# AWS echoes pieces of the request body in these messages: never repeat them.
_ECHOES_PAYLOAD = frozenset({"InvalidRequestContentException", "UnsupportedMediaTypeException"})


class AWSLambdaInvocationBackend:
    """``IInvocationBackend`` on AWS Lambda: ``lambda.invoke`` per invocation.

    Args:
        lambda_client: A boto3 Lambda client; made from the arguments below at first use
            when None. An injected client should have ``read_timeout`` of at least the
            longest function timeout and botocore's retries off (``total_max_attempts=1``):
            botocore would resend after a read timeout, running the function twice.
        session: The boto3 session the client is made from (credentials, profile); a new
            default session (the default credential chain) when None.
        region: The AWS region; boto3's own configuration decides when None.
        endpoint_url: Sends calls to this URL instead (LocalStack, moto).
        max_attempts: Calls at most per invocation while AWS throttles (first included).
        backoff_initial: Seconds before the first retry of a throttled call; each further
            retry waits twice as long (plus jitter), at most ``backoff_max``.
        backoff_max: The longest wait between throttled calls.
        max_concurrency: Invocations in flight at once (threads and pooled connections);
            more wait their turn inside their deadline.
        connect_timeout: Seconds to open a connection to AWS.
        read_timeout: Seconds the made client waits for AWS's answer; covers Lambda's
            900-second maximum by default.

    Raises:
        ValueError: A limit is out of range.

    Note:
        Calls ``lambda.invoke`` (``RequestResponse``, ``LogType=Tail``) and nothing else.
    """

    def __init__(
        self,
        lambda_client: LambdaClient | None = None,
        *,
        session: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        max_concurrency: int = 64,
        connect_timeout: float = 10.0,
        read_timeout: float = _LAMBDA_MAX_SECONDS + 10.0,
    ) -> None:
        self._retry = AWSRetry(max_attempts, backoff_initial, backoff_max)
        self._calls = BlockingCalls(max_concurrency, "lockgate-aws-lambda")
        self._client = LazyClient(
            "lambda",
            lambda_client,
            session=session,
            region=region,
            endpoint_url=endpoint_url,
            config=client_config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=max_concurrency,
            ),
        )
        self._checked_timeouts: set[str] = set()

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        """Invoke ``function`` on AWS Lambda and wait for its answer before ``deadline``.

        Args:
            function: An ``aws-lambda`` function; ``aws_arn`` names it on AWS.
            invocation: The event; its ``invoked_function_arn`` carries the caller's
                qualifier (sent to AWS in place of any in ``aws_arn``), its
                ``client_context`` is passed on.
            deadline: ``time.monotonic()`` by which the answer must be in.

        Returns:
            The function's reply (its result, or its error as Lambda reported it, with the
            log tail AWS sent) and ``False``: AWS does not say whether it started cold.

        Raises:
            ValueError: ``function`` has no ``aws_arn``.
            TooManyRequestsError: AWS kept throttling until the attempts or the deadline
                ran out, or no slot came free in time; the function did not run.
            InvocationTimeoutError: The deadline passed while AWS ran the function, or
                AWS reported the function timed out.
            RemoteInvocationError: AWS refused the call (``code`` is AWS's:
                ``ResourceNotFoundException`` for an unknown function) or could not be
                reached (``retryable``: the request never left this machine).

        Side Effects:
            Runs the function on AWS (billed there). A call whose deadline passed keeps a
            thread until AWS answers; its answer is dropped.

        Note:
            Calls ``lambda.invoke`` once per attempt, retrying only throttling.
        """
        target = self._target(function, invocation)
        loop = asyncio.get_running_loop()
        flight = Flight()
        started = time.monotonic()
        scope = asyncio.timeout_at(loop.time() + (deadline - started))
        try:
            async with scope:
                async for attempt in self._retry.attempts(is_throttling):
                    with attempt:
                        flight = Flight()
                        response = await self._calls.run(
                            lambda: self._invoke_once(function, target, invocation), flight
                        )
        except TimeoutError as exc:
            if scope.expired():
                raise self._expired(function, target, flight) from None
            raise self._unreachable(function, target, exc) from None  # a socket's own timeout
        except ClientError as exc:
            raise self._refused(function, target, exc) from None
        except BotoCoreError as exc:
            raise self._unreachable(function, target, exc) from None
        reply = lambda_reply(function, response, time.monotonic() - started)
        return reply, False

    async def close(self) -> None:
        """Close the client this backend made (an injected one is the caller's to close).

        Side Effects:
            Closes the client's pooled connections (a later call makes a new client);
            calls still in flight finish on their threads.
        """
        self._client.close()

    def _invoke_once(
        self, function: FunctionEntity, target: str, invocation: WorkerInvocation
    ) -> tuple[InvocationResponseTypeDef, bytes]:
        """One ``lambda.invoke`` (on a thread); the response and its payload, read."""
        client = self._client.get()
        self._check_read_timeout(client, function)
        extra: dict[str, str] = {}
        if invocation.client_context:
            extra["ClientContext"] = invocation.client_context
        response = client.invoke(
            FunctionName=target,
            InvocationType="RequestResponse",
            LogType="Tail",
            Payload=invocation.payload,
            **extra,
        )
        return response, response["Payload"].read()

    def _check_read_timeout(self, client: LambdaClient, function: FunctionEntity) -> None:
        if function.name in self._checked_timeouts:
            return
        self._checked_timeouts.add(function.name)
        read_timeout = getattr(client.meta.config, "read_timeout", None)
        if isinstance(read_timeout, int | float) and read_timeout < function.timeout_seconds:
            logger.warning(
                "the Lambda client's read timeout (%s s) is shorter than function %s's "
                "timeout (%s s): long invocations will fail as unreachable",
                read_timeout,
                function.name,
                function.timeout_seconds,
            )

    @staticmethod
    def _target(function: FunctionEntity, invocation: WorkerInvocation) -> str:
        """The ARN to invoke: ``aws_arn``, qualified by the caller's qualifier if any."""
        if function.aws_arn is None:
            raise ValueError(f"function {function.name!r} has no AWS Lambda ARN")
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        base = ":".join(function.aws_arn.split(":")[:7])
        invoked = invocation.invoked_function_arn
        for prefix in (function.arn + ":", base + ":"):
            if invoked.startswith(prefix) and invoked != function.arn:
                return f"{base}:{invoked[len(prefix) :]}"
        return function.aws_arn

    def _expired(self, function: FunctionEntity, target: str, flight: Flight) -> LockgateError:
        if flight.in_flight:
            logger.info("function %s timed out on AWS Lambda (%s)", function.name, target)
            return InvocationTimeoutError(
                f"Task timed out after {function.timeout_seconds:.2f} seconds",
                function=function.name,
                timeout=function.timeout_seconds,
            )
        # Nothing was with AWS: waiting for a slot, or backing off after a throttle.
        return TooManyRequestsError(
            f"function {function.name!r} could not be sent to AWS Lambda before its "
            "deadline (throttled, or too many invocations in flight)",
            retry_after=1,
            function=function.name,
            arn=target,
        )

    def _refused(self, function: FunctionEntity, target: str, exc: ClientError) -> LockgateError:
        code = error_code(exc)
        if is_throttling(exc):
            wait = retry_after(exc) or max(1, round(self._retry.backoff_max))
            logger.warning(
                "AWS Lambda throttled function %s (%s) %d times: %s",
                function.name,
                target,
                self._retry.max_attempts,
                code,
            )
            return TooManyRequestsError(
                f"AWS Lambda throttled function {function.name!r} ({code}) and kept "
                f"throttling after {self._retry.max_attempts} attempts; the function did not "
                f"run. Try again in {wait} s",
                retry_after=wait,
                function=function.name,
                arn=target,
                aws_code=code,
            )
        if code == "ResourceNotFoundException":
            message = (
                f"AWS Lambda has no function {target} (function {function.name!r}): "
                f"{error_message(exc)}"
            )
        else:
            detail = "the request was rejected" if code in _ECHOES_PAYLOAD else error_message(exc)
            message = (
                f"AWS Lambda refused invoking function {function.name!r} ({target}): "
                f"{code}: {detail}"
            )
        logger.warning("invoking %s on AWS Lambda failed: %s", function.name, message)
        return RemoteInvocationError(
            message,
            code=code,
            retryable=code in _NOT_READY_CODES,
            function=function.name,
            arn=target,
        )

    @staticmethod
    def _unreachable(
        function: FunctionEntity, target: str, exc: BotoCoreError | TimeoutError
    ) -> RemoteInvocationError:
        never_sent = isinstance(exc, NEVER_SENT)
        logger.warning("AWS Lambda unreachable for %s: %s", function.name, type(exc).__name__)
        outcome = "" if never_sent else "; the function may have run"
        return RemoteInvocationError(
            f"could not invoke function {function.name!r} on AWS Lambda ({target}): {exc}{outcome}",
            code=type(exc).__name__,
            retryable=never_sent,
            function=function.name,
            arn=target,
        )
