"""Every port Lockgate's use cases speak to. Implementations are named by technology.

Each Protocol is ``@runtime_checkable`` so the composition root can assert what it wires.
Families that live in folders of their own define their ports beside their adapters
(``stores/credentials/ports.py``); they are re-exported here, so this stays the index.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lockgate.gateways.auth.ports import IKeySetFetcher
from lockgate.gateways.aws.ports import ISigV4Signer
from lockgate.gateways.stores.credentials.ports import ICredentialStore, UsageKey
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply
from lockgate.models.job import JobDefinition, JobRun, JobStatusDetail
from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord
from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)

__all__ = [
    "IAsyncInvocationMetrics",
    "IAsyncInvocationStore",
    "ICredentialStore",
    "IEgressGuard",
    "IEventStore",
    "IInlineResourceResolver",
    "IInvocationBackend",
    "IInvocationMetrics",
    "IJobRunner",
    "IJobStore",
    "IKeySetFetcher",
    "IResourceResolver",
    "IRunStore",
    "ISecretStore",
    "ISigV4Signer",
    "IWorker",
    "IWorkerLauncher",
    "IWorkflowMetrics",
    "StepWrite",
    "UsageKey",
]

StepWrite = tuple[StepRecord, bytes | None]
"""A step's record and its output as JSON text (None when it has no output)."""


@runtime_checkable
class IWorker(Protocol):
    """One started worker that runs one invocation at a time."""

    @property
    def worker_id(self) -> str:
        """A short id, unique within the gateway, for logs and health."""
        ...

    @property
    def alive(self) -> bool:
        """False once the worker has exited or been killed."""
        ...

    async def invoke(self, invocation: WorkerInvocation) -> WorkerReply:
        """Run the handler once and wait for its reply.

        Args:
            invocation: The event and the Lambda context fields.

        Returns:
            The handler's return value or exception, its logs and its duration.

        Raises:
            WorkerCrashedError: The worker died or broke the protocol; ``reached_handler``
                says whether the request may have run.

        Side Effects:
            Runs user code in the worker process.

        Note:
            Never enforces a deadline itself: the caller cancels and then calls ``kill()``.
            A cancelled call leaves the worker unusable.
        """
        ...

    def kill(self) -> None:
        """Stop the worker at once (and anything it started). Idempotent, never raises."""
        ...

    async def wait_closed(self) -> None:
        """Wait until the worker has fully exited (after ``kill()``)."""
        ...


@runtime_checkable
class IWorkerLauncher(Protocol):
    """Starts workers for a function."""

    async def launch(self, function: FunctionEntity) -> IWorker:
        """Start a worker and wait until its handler is imported.

        Args:
            function: The function whose handler the worker imports.

        Returns:
            A ready worker.

        Raises:
            FunctionInitError: The handler failed to import or initialise; the message is
                the error the handler raised.
            WorkerCrashedError: The worker process failed to start (``reached_handler``
                is False).

        Side Effects:
            Starts an operating-system process.
        """
        ...


@runtime_checkable
class IInvocationBackend(Protocol):
    """Where invocations run: local worker pools today, AWS Lambda tomorrow."""

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        """Run one invocation before ``deadline`` (``time.monotonic()`` seconds).

        Args:
            function: The function to run.
            invocation: The event and context fields.
            deadline: Monotonic time by which the reply must be in.

        Returns:
            The worker's reply and whether this invocation paid a cold start.

        Raises:
            TooManyRequestsError: No worker could be had in time; nothing ran.
            InvocationTimeoutError: The deadline passed while the handler ran.
            InvocationError: Any other failure (crash, init error, closed pool).

        Side Effects:
            May start or kill worker processes.
        """
        ...


@runtime_checkable
class IInvocationMetrics(Protocol):
    """Counters and histograms about invocations; never sees payloads."""

    def invocation_finished(self, function: str, outcome: str, duration_s: float) -> None:
        """Record one invocation.

        Args:
            function: The function's name.
            outcome: ``success``, ``handler_error``, ``timeout``, ``crash``, ``init_error``,
                ``throttled``, ``circuit_open`` or ``error``.
            duration_s: Wall time the gateway spent on it.
        """
        ...

    def cold_start(self, function: str, duration_s: float) -> None:
        """Record one worker start that succeeded."""
        ...


@runtime_checkable
class IAsyncInvocationMetrics(Protocol):
    """Counts of ``Event`` invocation attempts; never sees payloads."""

    def async_attempt_finished(self, function: str, outcome: str) -> None:
        """Record one attempt's outcome.

        Args:
            function: The function's name.
            outcome: ``succeeded``, ``retried`` (a function error, to be tried again),
                ``dead`` (no attempt left, or too old) or ``deferred`` (refused before it
                ran: throttled, breaker open; tried again without counting).
        """
        ...


@runtime_checkable
class IWorkflowMetrics(Protocol):
    """Counters and histograms about workflow runs and steps; never sees their data."""

    def run_finished(self, workflow: str, status: str, duration_s: float) -> None:
        """Record one run's end.

        Args:
            workflow: The id the workflow is registered under.
            status: ``completed``, ``failed`` or ``cancelled``.
            duration_s: From the run's creation to its end (restarts included).
        """
        ...

    def step_finished(self, workflow: str, step: str, status: str, duration_s: float) -> None:
        """Record one step's end (``completed`` or ``failed``), retries included."""
        ...


@runtime_checkable
class IRunStore(Protocol):
    """Where runs and their step checkpoints are kept, durably.

    Every write is committed when its coroutine returns; concurrent writers share commits
    (group commit), so a write may wait for others' to join its batch. Writes never read
    first: a run's checkpoints are read once, when it is claimed after a restart.
    """

    async def open(self) -> None:
        """Connect and bring the schema up to the current version.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the database (file or tables) and applies pending migrations.
        """
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect. Idempotent."""
        ...

    async def create_run(
        self, run: RunRecord, *, owner: str, lease_seconds: float, wait: bool = True
    ) -> RunRecord:
        """Record a new run, owned by ``owner`` for ``lease_seconds``.

        Args:
            run: The run, status ``running``, with no steps.
            owner: The node that will execute it (its lease is renewed by ``renew_leases``).
            lease_seconds: How long the claim lasts without renewal.
            wait: False returns before the commit; allowed only without an idempotency
                key. The run is committed no later than the next write of this store, so
                a step checkpoint never becomes durable without its run.

        Returns:
            ``run`` as stored; for an idempotency key already used, the earlier run
            (with its steps) instead. The caller compares ``request_hash``.

        Raises:
            RunStoreError: The write failed; nothing was recorded.
        """
        ...

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        """Commit one step's checkpoint (a completed step's output, or a failure).

        Note:
            One write, no read. Saving a step twice keeps the later record.
        """
        ...

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        """Commit the run's final status with its last step records, in one transaction.

        Returns:
            False (and nothing written) when the run had already finished (for instance
            cancelled by another node).
        """
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run with every recorded step, or None."""
        ...

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        principal: str | None = None,
    ) -> RunPage:
        """Runs newest first, filtered (``principal``: only the runs it started), one page
        at a time (without their step outputs).

        Raises:
            ValueError: ``cursor`` is not one this store returned.
        """
        ...

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        """Take over unfinished runs: ``owner``'s own (it restarted; only with ``own``),
        ownerless ones and any whose lease expired (their node died), each with its
        recorded steps.

        Side Effects:
            Sets the claimed runs' owner and lease.

        Note:
            On PostgreSQL concurrent claimers never take the same run (``SKIP LOCKED``).
        """
        ...

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        """Extend the lease of every unfinished run ``owner`` holds (its heartbeat).

        Returns:
            The ids of those runs: one ``owner`` executes but is missing here was taken
            over or ended by another node.
        """
        ...

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` runs that finished before ``finished_before``, oldest
        first, with their steps and idempotency keys (a key is free again afterwards).

        Returns:
            How many runs were deleted (``limit`` means more may be left).

        Side Effects:
            Deletes; never touches a running run.
        """
        ...


@runtime_checkable
class ISecretStore(Protocol):
    """Where encrypted secrets are kept (beside the runs, in the same database).

    The store sees only envelopes: ciphertexts and wrapped data keys. Encryption,
    decryption and key handling belong to ``SecretManager``. The store also records the id
    of the current master key, and holds one lock for it: ``put`` checks a write's key
    under it and ``rewrap_all`` changes the key under it, so across every process sharing
    the database a write and a rotation never interleave.
    """

    async def open(self) -> None:
        """Connect and bring the secrets' schema up to the current version.

        Raises:
            SecretStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the secrets table (and its version table) if missing.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        """Store the envelope ``seal`` makes under ``name``, replacing any previous one,
        in one transaction that holds the store's master-key lock, so no rotation runs
        between the check and the write.

        Args:
            name: The secret's name.
            seal: Called inside the transaction with the metadata of the secret being
                replaced (None for a new one); returns the envelope to store (its version
                and created_at follow from that metadata). Must not block: it runs while
                the lock is held (AES-GCM on a few hundred bytes).

        Returns:
            The envelope stored.

        Raises:
            MasterKeyRotatedError: The envelope is sealed under a master key other than the
                store's current one (``fields["current_key_id"]`` names it); nothing was
                written.
            MasterKeyError: The store has no current key recorded yet holds secrets under
                another key (a database written before key tracking with mixed keys);
                nothing was written.
            SecretStoreError: The write failed; nothing was changed.

        Side Effects:
            One committed write; the first write to an empty store records its key as
            the current one.
        """
        ...

    async def get(self, name: str) -> SecretEnvelope | None:
        """The envelope stored under ``name``, or None.

        Raises:
            SecretStoreError: The read failed.
        """
        ...

    async def delete(self, name: str) -> bool:
        """Remove the secret ``name``.

        Returns:
            True if it existed.

        Raises:
            SecretStoreError: The write failed.
        """
        ...

    async def list(self) -> list[SecretMetadata]:
        """Every secret's metadata, by name; never a value or a key.

        Raises:
            SecretStoreError: The read failed.
        """
        ...

    async def key_state(self) -> SecretKeyState:
        """The current master key id and how many secrets each key wraps.

        Raises:
            SecretStoreError: The read failed.
        """
        ...

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        """Rewrap every secret's data key for the master key ``key_id`` and make it the
        current key, in ONE transaction holding the same lock as ``put``: writes wait for
        it (they are then checked against ``key_id``), and it never has to be retried
        because of them. Ciphertexts, nonces and versions are left as they are.

        Args:
            key_id: The new current master key's id.
            rewrap: Called for each stored envelope inside the transaction; returns its
                data key wrapped by ``key_id``. Must not block (AES-GCM, microseconds).
                What it raises rolls everything back.
            keep_previous: Keep each secret's wrapping by the key it was under (when that
                is not ``key_id``) as its previous wrapping, so that key still reads it;
                False drops every previous wrapping, so only ``key_id`` opens anything.

        Returns:
            How many secrets were rewrapped.

        Raises:
            SecretStoreError: The write failed (nothing was changed).
            Whatever ``rewrap`` raises (nothing was changed).

        Side Effects:
            One committed transaction.
        """
        ...


@runtime_checkable
class IResourceResolver(Protocol):
    """Creates, checks and closes the resources of one reference type: a database pool, an
    HTTP client, a cache, a message-queue connection.

    The ``ResourceRegistry`` pools what ``create`` returns (one per distinct reference), so a
    resolver never caches. Its error messages describe the target (``PostgreSQL at
    127.0.0.1:5432``) but not the resource's name, which the registry adds, and never hold a
    password or a secret's value.
    """

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Raises:
            ResourceConfigError: A key is unknown, missing or of the wrong type; the
                message and ``fields["key"]`` name it.
        """
        ...

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        """Open the resource (a pool holds its ``min_size`` connections when this returns).

        Args:
            config: The reference's config, already validated.
            credentials: The decrypted value of the reference's ``credentials_ref`` secret
                (a JSON value, usually an object), or None.

        Raises:
            ResourceConfigError: ``credentials`` has the wrong shape.
            ResourceTimeoutError: Connecting took longer than ``connect_timeout``.
            ResourceUnavailableError: Refused, unreachable, or the credentials were rejected.

        Side Effects:
            Opens connections (or, for an in-memory resource, allocates it).
        """
        ...

    async def health_check(self, resource: Any) -> None:
        """Probe ``resource`` (``SELECT 1``, ``PING``, a request to a configured URL).

        Raises:
            ResourceUnavailableError: It is unhealthy; the message says why.
        """
        ...

    async def close(self, resource: Any) -> None:
        """Close ``resource`` and every connection it holds. Idempotent."""
        ...


@runtime_checkable
class IEgressGuard(Protocol):
    """The egress policy of inline resources (``inline_allowed_hosts``), applied where they
    connect: resolve the host at connect time, connect only to the addresses returned.

    Note:
        A resolver hands the returned addresses to its driver and never the host name, so
        no second DNS lookup can move the connection elsewhere (DNS rebinding); TLS goes on
        verifying the host name. Every failure to reach the host goes through ``failed``
        and reaches the caller as ``lockgate.models.egress.UNREACHABLE``.
    """

    def now(self) -> float:
        """Monotonic seconds: an attempt's start, for ``failed``."""
        ...

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` now; the addresses the policy allows, in the resolver's order.

        Raises:
            EgressRefusedError: None is allowed (an ``OSError``; its message is for the log).
            OSError: The name does not resolve.
        """
        ...

    async def failed(
        self, started: float, connect_timeout: float, target: str, reason: BaseException
    ) -> None:
        """Log ``reason`` (INFO for a policy refusal, DEBUG otherwise), then wait until
        ``started + connect_timeout``: refused, silent and forbidden hosts all take as long.

        Args:
            started: ``now()`` when the attempt began.
            connect_timeout: The attempt's connect timeout.
            target: ``host:port`` as the reference named it.
            reason: The connect failure (never one that could hold credentials).

        Side Effects:
            Sleeps, and logs.
        """
        ...


@runtime_checkable
class IInlineResourceResolver(IResourceResolver, Protocol):
    """A resolver whose resources may be created from a caller's inline reference: it
    connects only where an ``IEgressGuard`` allows.

    The registry calls ``create`` for shared resources (the operator's, not restricted) and
    ``create_inline`` for inline ones. A resolver without these methods (a user's own) is
    refused inline unless registered with ``inline=True``.
    """

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, plus what a caller may not choose (a proxy, a Unix socket path, a
        transport that resolves names itself).

        Raises:
            ResourceConfigError: Names the key and why it is refused inline.
        """
        ...

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> Any:
        """``create``, connecting through ``egress``: every connection the resource ever
        opens (the first, a pool's later ones, reconnects, redirects) goes to addresses
        ``egress`` returned.

        Raises:
            ResourceUnavailableError: Any failure to reach the host, with the one message
                ``UNREACHABLE`` after ``egress.failed``; other failures (credentials
                rejected by a reached server) as ``create`` raises them.
            ResourceConfigError: As ``create``.
        """
        ...


@runtime_checkable
class IEventStore(Protocol):
    """Durable events between modules (an outbox): the event and one delivery row per
    subscriber, written together; deliveries claimed with a lease, completed, retried, or
    left dead. Kept beside the runs, in the same database, in tables of its own.
    """

    async def open(self) -> None:
        """Connect and bring the events' schema up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def record(
        self, event: EventRecord, subscribers: Sequence[str], *, connection: object | None = None
    ) -> None:
        """Store ``event`` and a pending delivery, due at once, for each subscriber, all in
        one transaction (nothing is stored when it fails).

        Args:
            event: The event.
            subscribers: The subscriber ids to deliver it to.
            connection: A publisher's own database connection (the transactional outbox):
                the rows are written on it, inside its open transaction, and commit or roll
                back with the publisher's writes; invisible to ``claim_due`` until then.
                Only the PostgreSQL store accepts one (an asyncpg connection to its
                database); the others refuse it.

        Raises:
            TypeError: ``connection`` is not a connection the store can write on.
            ValueError: The store cannot join a caller's transaction, or ``connection`` is
                closed, in a failed transaction, or to another database.
            RunStoreError: The write failed.

        Side Effects:
            One committed transaction, or a part of the caller's.
        """
        ...

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        """Pending deliveries due by ``now`` that nobody holds (or whose lease lapsed),
        oldest first, now leased to ``owner`` until ``now + lease_seconds``; each claim
        counts as an attempt.

        Raises:
            RunStoreError: The store failed.
        """
        ...

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        """Mark a delivery completed (a no-op when it already is).

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        """Record a failed attempt: pending again from ``retry_at``, or dead when it is
        None; the lease is released either way.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def deliveries(
        self, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries (oldest first), optionally only those in ``status``.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        """Delete completed deliveries finished before ``before``, and events left with no
        delivery; returns how many deliveries went.

        Raises:
            RunStoreError: The write failed.
        """
        ...


@runtime_checkable
class IAsyncInvocationStore(Protocol):
    """Durable ``Event`` invocations: accepted, claimed under a lease, succeeded, retried,
    or left dead with their error and re-driven. Kept beside the runs, in the same
    database, in a table of its own.
    """

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        """Store a new invocation (``queued``, no attempts yet, due at its
        ``next_attempt_at``), committed before this returns, unless its function already
        has ``max_queued`` queued invocations.

        Returns:
            True when it was stored; False when the function's queue was full (nothing was
            written).

        Raises:
            TypeError: The payload is not bytes.
            ValueError: An invocation with this ``request_id`` is already stored, or the
                invocation is not new (not queued, or with attempts, an error or a finish
                time).
            RunStoreError: The write failed.

        Side Effects:
            One committed transaction.

        Note:
            The count and the insert are one transaction; on PostgreSQL, nodes accepting
            at the same instant may each see the count below the cap, so a queue may end
            a few over ``max_queued`` (at most one per concurrent enqueue).
        """
        ...

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_functions: Collection[str] = (),
    ) -> list[AsyncInvocation]:
        """Queued invocations due by ``now`` that nobody holds (or whose lease lapsed), of
        functions not in ``skip_functions`` (those the caller cannot run more of now),
        oldest due first, now leased to ``owner`` until ``now + lease_seconds``; each claim
        counts as an attempt (the returned records show it counted).

        Raises:
            ValueError: ``lease_seconds`` is not > 0 or ``limit`` not a whole number >= 0.
            RunStoreError: The store failed.
        """
        ...

    async def release(self, owner: str, now: float) -> int:
        """Make every queued invocation ``owner`` holds due at ``now`` and unheld (its
        attempt was cut short: the node restarted or stopped); the claims stay counted.

        Returns:
            How many were released.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def succeed(self, request_id: str, now: float) -> None:
        """Mark an invocation succeeded and release its lease (a no-op when it is not
        queued).

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        """Record a failed attempt: queued again from ``retry_at``, or dead when it is None
        (``finished_at`` = ``now``); the lease is released either way, ``error`` kept (None
        keeps the last one: an attempt put off, not failed).

        Args:
            counted: False when the attempt never reached the function (throttled): its
                claim is not counted against the attempts allowed.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def get(self, request_id: str) -> AsyncInvocation | None:
        """One invocation, or None.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        """Invocations, oldest accepted first, optionally only those in ``status`` and of
        ``function``.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.
        """
        ...

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        """Queue dead invocations again, due at ``now`` with no attempts and no error:
        those of ``request_ids`` (when given), else every dead one (of ``function``, when
        given; with both, only those of the ids that are of ``function``). Ids that are
        unknown or not dead are left alone.

        Returns:
            The ids re-queued.

        Raises:
            TypeError: ``request_ids`` is a single string or holds a non-string.
            RunStoreError: The write failed.
        """
        ...

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        """Delete succeeded invocations finished before ``before``; returns how many.

        Raises:
            RunStoreError: The write failed.
        """
        ...


@runtime_checkable
class IJobRunner(Protocol):
    """Carries out long-running job runs somewhere: local processes, AWS Batch."""

    async def submit_run(self, definition: JobDefinition, run: JobRun) -> JobRun:
        """Start ``run`` of ``definition``.

        Args:
            definition: What to run.
            run: The run to start; ``external_id`` must be None.

        Returns:
            ``run`` with ``external_id`` set to the runner's own id and its status.

        Raises:
            ValueError: ``run`` was already submitted, or ``definition`` is not for this
                runner.
            JobRunnerError: The runner refused or failed to start it (after retrying
                throttling); the message says why.

        Side Effects:
            Starts the run (a process, a Batch job).
        """
        ...

    async def describe_run(self, run: JobRun) -> JobStatusDetail:
        """Where ``run`` stands now.

        Raises:
            ValueError: ``run.external_id`` is None (it was never submitted).
            JobRunnerError: The runner failed to answer, or does not know the run: then
                ``fields["external_id"]`` is ``run.external_id`` and ``retryable`` is False
                (the run is lost, e.g. a local process from before a restart).
        """
        ...

    async def cancel_run(self, run: JobRun, reason: str) -> None:
        """Stop ``run`` (a no-op when it already finished).

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: The runner failed to stop it.

        Side Effects:
            Kills the process or terminates the Batch job.
        """
        ...


@runtime_checkable
class IJobStore(Protocol):
    """Job runs, kept beside the workflow runs in the same database."""

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def save(self, run: JobRun) -> None:
        """Insert or replace ``run`` (by ``run_id``), committed before this returns.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def get(self, run_id: str) -> JobRun | None:
        """One run, or None.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        """Runs, newest first, optionally only of ``job`` and only those not finished.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.
        """
        ...
