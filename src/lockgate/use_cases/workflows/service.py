"""Registered workflows and their runs: start, wait, look up, list, cancel, resume.

Only runs that are executing live in memory; a finished run is read back from the store,
so memory does not grow with the number of finished runs. On start the service claims the
unfinished runs this node owned (and any whose owner's lease expired) and resumes each from
its committed steps; a heartbeat keeps the leases of the runs it executes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lockgate import json_codec
from lockgate.errors import (
    IdempotencyConflictError,
    InvalidParametersError,
    RunFinishedError,
    RunNotFoundError,
    TooManyRequestsError,
    WorkflowAlreadyRegisteredError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)
from lockgate.gateways.interfaces import IRunStore
from lockgate.models.ids import new_run_id
from lockgate.models.run import (
    RunPage,
    RunRecord,
    RunStatus,
    WorkflowRequest,
    WorkflowResponse,
)
from lockgate.models.workflow import StepKind, Workflow
from lockgate.use_cases.resources.registry import ResourceRegistry, RunResources
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.live_run import LiveRun
from lockgate.use_cases.workflows.parameters import checked_parameters

__all__ = ["RegisteredWorkflow", "WorkflowService"]

# The seed's name for what the gateway does with runs ("lockgate.gateway" at DEBUG shows each
# run and step; names and ids only, never values).
logger = logging.getLogger("lockgate.gateway")

_PURGE_BATCH = 500
_PURGE_BATCHES = 20


@dataclass(frozen=True, slots=True)
class RegisteredWorkflow:
    """A workflow as registered.

    Attributes:
        metadata: The operator's notes on it, read by every run it starts. The seed's
            ``gateway.workflows["pipeline"].metadata["debug"] = True`` makes its runs log
            each step's inputs and output (secrets redacted) at DEBUG on
            ``lockgate.gateway``. Kept in this process; not part of ``describe()``.
        version: 1 when registered, one more each time its code is replaced (a reload):
            new runs use the newest version, runs in flight finish on theirs.
    """

    workflow_id: str
    workflow: Workflow
    required_resources: tuple[str, ...]
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    def describe(self) -> dict[str, Any]:
        return {
            **self.workflow.describe(),
            "id": self.workflow_id,
            "description": self.description,
            "required_resources": list(self.required_resources),
            "version": self.version,
        }


@dataclass(eq=False, slots=True)
class _ActiveRun:
    live: LiveRun
    registered: RegisteredWorkflow
    task: asyncio.Task[RunStatus]
    lookup: RunResources


class WorkflowService:
    """The workflow half of the gateway.

    Args:
        store: The run store (opened by ``start``).
        executor: Runs the runs.
        resources: Resolves the resources runs name.
        node_id: This gateway's name in the store's leases; a restarted node with the same
            id takes its own unfinished runs back at once.
        lease_seconds: How long a node's claim on its runs lasts without a heartbeat.
        retention: Seconds a finished run is kept before the heartbeat deletes it (with its
            steps and idempotency key); None keeps every run.
        function_exists: Tells whether a Lockgate function is declared (checked when a
            workflow with function steps is registered).
        max_runs_per_principal: Runs one principal may have executing on this node at once;
            a run past it is refused (429) before anything is recorded. None: no cap.
    """

    def __init__(
        self,
        store: IRunStore,
        executor: WorkflowExecutor,
        resources: ResourceRegistry,
        *,
        node_id: str,
        lease_seconds: float = 30.0,
        retention: float | None = None,
        function_exists: Callable[[str], bool] = lambda _: True,
        max_runs_per_principal: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._executor = executor
        self._resources = resources
        self._node_id = node_id
        self._lease = lease_seconds
        self._retention = retention
        self._function_exists = function_exists
        self.max_runs_per_principal = max_runs_per_principal
        self._running: Counter[str] = Counter()  # runs executing here, by principal
        self._clock = clock
        self._workflows: dict[str, RegisteredWorkflow] = {}
        self._active: dict[str, _ActiveRun] = {}
        self._orphans: dict[str, list[RunRecord]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._reclaim_own = False  # a run of ours failed to record: take ours back too
        self.started = False

    # -- workflows -------------------------------------------------------------------------

    def register_workflow(
        self,
        workflow_id: str,
        workflow: Workflow,
        required_resources: Iterable[str] = (),
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Make ``workflow`` runnable as ``workflow_id``; ``metadata`` starts its
        ``RegisteredWorkflow.metadata`` (``{"debug": True}``).

        Raises:
            WorkflowAlreadyRegisteredError: ``workflow_id`` is taken.
            WorkflowDefinitionError: A function step names an undeclared function.
        """
        if workflow_id in self._workflows:
            raise WorkflowAlreadyRegisteredError(
                f"workflow {workflow_id!r} is already registered", workflow=workflow_id
            )
        registered = self._checked(workflow_id, workflow, required_resources, description)
        registered = replace(registered, metadata=dict(metadata or {}))
        self._workflows[workflow_id] = registered
        if self.started:
            for run in self._orphans.pop(workflow_id, []):
                self._launch(registered, run)

    def replace_workflow(
        self,
        workflow_id: str,
        workflow: Workflow,
        required_resources: Iterable[str] = (),
        description: str = "",
    ) -> RegisteredWorkflow:
        """Register new code for ``workflow_id`` as its next version (its metadata kept):
        new runs use it; runs in flight keep the definition they started with, so they
        finish on the old code.

        Raises:
            WorkflowNotFoundError: ``workflow_id`` is not registered.
            WorkflowDefinitionError: As ``register_workflow``; the old version stays.
        """
        current = self.get_workflow(workflow_id)
        registered = replace(
            self._checked(workflow_id, workflow, required_resources, description),
            metadata=current.metadata,
            version=current.version + 1,
        )
        self._workflows[workflow_id] = registered
        return registered

    def _checked(
        self,
        workflow_id: str,
        workflow: Workflow,
        required_resources: Iterable[str],
        description: str,
    ) -> RegisteredWorkflow:
        if not isinstance(workflow, Workflow):
            raise WorkflowDefinitionError(
                f"workflow {workflow_id!r}: expected a built workflow "
                f"(AsyncWorkflowBuilder(...).build()), got {type(workflow).__name__}"
            )
        for step in workflow.steps.values():
            if step.kind is StepKind.FUNCTION and not self._function_exists(
                step.function_name or ""
            ):
                raise WorkflowDefinitionError(
                    f"workflow {workflow_id!r}: step {step.name!r} invokes function "
                    f"{step.function_name!r}, which is not declared",
                    step=step.name,
                )
        required = dict.fromkeys((*workflow.required_resources, *required_resources))
        return RegisteredWorkflow(workflow_id, workflow, tuple(required), description)

    def workflows(self) -> list[RegisteredWorkflow]:
        return list(self._workflows.values())

    # The seed reads registered workflows as a mapping: gateway.workflows["pipeline"].metadata.
    def __getitem__(self, workflow_id: str) -> RegisteredWorkflow:
        """``get_workflow``: ``WorkflowNotFoundError`` (a ``LookupError``) naming the
        registered ones when there is none by that id."""
        return self.get_workflow(workflow_id)

    def __contains__(self, workflow_id: object) -> bool:
        return workflow_id in self._workflows

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._workflows))

    def get_workflow(self, workflow_id: str) -> RegisteredWorkflow:
        try:
            return self._workflows[workflow_id]
        except KeyError:
            known = ", ".join(sorted(self._workflows)) or "none"
            raise WorkflowNotFoundError(
                f"no workflow {workflow_id!r} is registered (registered: {known})",
                workflow=workflow_id,
            ) from None

    # -- runs ------------------------------------------------------------------------------

    async def execute_workflow(
        self, workflow_id: str, request: WorkflowRequest | None = None, *, wait: bool = True
    ) -> WorkflowResponse:
        """Start a run (or find the one its idempotency key names) and, with ``wait``,
        wait for its end.

        Returns:
            The run; a failed run is a response with status ``failed`` and the error.

        Raises:
            WorkflowNotFoundError: No such workflow.
            InvalidParametersError: Parameters missing, unknown, mistyped or not JSON.
            ResourceConfigError: A resource reference is malformed or of an unknown type.
            ResourceNotFoundError: A resource names an unregistered ``"@name"``.
            IdempotencyConflictError: The key belongs to a run of a different request, or
                one another principal started.
            TooManyRequestsError: The principal has ``max_runs_per_principal`` runs
                executing here.
            RunStoreError: The run could not be recorded; nothing ran.

        Note:
            A caller that stops waiting (cancelled) leaves the run running.
        """
        registered = self.get_workflow(workflow_id)
        request = request or WorkflowRequest()
        self._check_capacity(request.principal)
        parameters = checked_parameters(registered.workflow, request.parameters)
        # In-process requests carry no principal: they are the operator's own.
        resources = self._resources.checked_request(
            request.resources, principal=request.principal, trusted=request.principal is None
        )
        try:
            fingerprint = json_codec.dumps(
                [workflow_id, parameters, resources, request.context], sort_keys=True
            )
        except TypeError as exc:
            raise InvalidParametersError(
                f"resources and context must be JSON values: {exc}", workflow=workflow_id
            ) from None
        now = self._clock()
        timeout = registered.workflow.timeout
        run = RunRecord(
            run_id=new_run_id(),
            workflow_id=workflow_id,
            status=RunStatus.RUNNING,
            parameters=parameters,
            resources=resources,
            context=dict(request.context),
            idempotency_key=request.idempotency_key,
            request_hash=hashlib.sha256(fingerprint).hexdigest(),
            created_at=now,
            updated_at=now,
            deadline=now + timeout if timeout is not None else None,
            principal=request.principal,
        )
        # Without a key nothing can be returned but this run, so its commit joins the first
        # step's; with a key the store must say first whether the run is new. An answer that
        # does not wait for the run is only given once the run is committed.
        pipelined = request.idempotency_key is None and wait
        stored = await self._store.create_run(
            run, owner=self._node_id, lease_seconds=self._lease, wait=not pipelined
        )
        if stored.run_id != run.run_id:
            return await self._existing(registered, run, stored, wait=wait)
        missing = self._resources.unavailable(run.resources, registered.required_resources)
        if missing:
            error = f"required resources not supplied: {', '.join(missing)}"
            await self._store.finish_run(run.run_id, RunStatus.FAILED, error, (), now)
            return self._response(registered, replace(run, status=RunStatus.FAILED, error=error))
        active = self._launch(registered, run)
        if wait:
            await self._settled(active)
        return self._live_response(active)

    async def _existing(
        self, registered: RegisteredWorkflow, run: RunRecord, stored: RunRecord, *, wait: bool
    ) -> WorkflowResponse:
        if stored.principal != run.principal:
            # Not even its id: the caller may not be allowed to see that run.
            raise IdempotencyConflictError(
                f"idempotency key {run.idempotency_key!r} is in use by another caller; "
                "choose another key"
            )
        if stored.request_hash != run.request_hash:
            raise IdempotencyConflictError(
                f"idempotency key {run.idempotency_key!r} was used by run {stored.run_id} "
                "with a different request",
                run_id=stored.run_id,
            )
        active = self._active.get(stored.run_id)
        if active is not None:
            if wait:
                await self._settled(active)
            return self._live_response(active)
        if wait and not stored.status.finished:
            # Running on another node (or not resumed here yet): follow it in the store.
            stored = await self._poll_until_finished(stored.run_id) or stored
        return self._response(registered, stored)

    @staticmethod
    async def _settled(active: _ActiveRun) -> None:
        """Wait for the run's end (its outcome committed), never cancelling it: a waiter
        that gives up leaves the run running.

        Raises:
            RunStoreError: The outcome could not be committed (the run will be claimed and
                resumed).
        """
        await asyncio.wait({active.task})
        if active.live.finishing is not None:
            await asyncio.wait({active.live.finishing})
        if not active.task.cancelled() and (error := active.task.exception()) is not None:
            raise error

    async def _poll_until_finished(self, run_id: str) -> RunRecord | None:
        delay = 0.01
        while True:
            stored = await self._store.get_run(run_id)
            if stored is None or stored.status.finished:
                return stored
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def get_run(self, run_id: str) -> WorkflowResponse:
        """The run, live if it is executing here.

        Raises:
            RunNotFoundError: No such run.
        """
        active = self._active.get(run_id)
        if active is not None:
            return self._live_response(active)
        stored = await self._store.get_run(run_id)
        if stored is None:
            raise RunNotFoundError(f"no run {run_id!r}", run_id=run_id)
        registered = self._workflows.get(stored.workflow_id)
        return self._response(registered, stored)

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        principal: str | None = None,
    ) -> RunPage:
        """Runs newest first (``principal``: only the runs it started); see
        ``IRunStore.list_runs``."""
        return await self._store.list_runs(
            workflow_id=workflow_id, status=status, limit=limit, cursor=cursor, principal=principal
        )

    async def cancel_run(self, run_id: str) -> WorkflowResponse:
        """Cancel a running run: steps in flight are cancelled, and no step starts again.

        Raises:
            RunNotFoundError: No such run.
            RunFinishedError: The run had already finished.
        """
        active = self._active.get(run_id)
        if active is not None:
            active.live.cancel_requested = True
            active.task.cancel()
            await self._settled(active)
            status = active.live.status
            if status is RunStatus.CANCELLED:
                return self._live_response(active)
            if status.finished:  # its own end was being committed first
                raise RunFinishedError(
                    f"run {run_id} has already finished ({status.value})", run_id=run_id
                )
            # Its task ended before recording anything (it had not started yet): record
            # the cancellation below, as for a run no node is executing.
        stored = await self._store.get_run(run_id)
        if stored is None:
            raise RunNotFoundError(f"no run {run_id!r}", run_id=run_id)
        if not stored.status.finished and await self._store.finish_run(
            run_id, RunStatus.CANCELLED, "the run was cancelled", (), self._clock()
        ):
            orphans = self._orphans.get(stored.workflow_id, [])
            self._orphans[stored.workflow_id] = [r for r in orphans if r.run_id != run_id]
            return await self.get_run(run_id)
        stored = await self._store.get_run(run_id)
        outcome = stored.status.value if stored else "finished"
        raise RunFinishedError(f"run {run_id} has already finished ({outcome})", run_id=run_id)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, resume unfinished runs, and start the lease heartbeat."""
        await self._store.open()
        self.started = True
        await self._claim(own=True)
        self._heartbeat = asyncio.create_task(self._beat(), name="lockgate-run-heartbeat")

    async def stop(self, grace: float) -> None:
        """Let executing runs finish for up to ``grace`` seconds; the rest stay unfinished in
        the store and resume on the next start."""
        tasks = [active.task for active in self._active.values()]
        if tasks:
            # The heartbeat keeps beating meanwhile: a lease lapsing during the grace would
            # let another node resume a run that is still executing here.
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        self.started = False
        await self._store.close()

    @property
    def active_runs(self) -> int:
        return len(self._active)

    async def _beat(self) -> None:
        interval = self._lease / 3
        since_claim = 0.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self._renew()
                since_claim += interval
                if since_claim >= self._lease:
                    since_claim = 0.0
                    own, self._reclaim_own = self._reclaim_own, False
                    await self._claim(own=own)
                    await self._purge()
            except Exception:
                logger.exception("run lease heartbeat failed; retrying")

    async def _renew(self) -> None:
        """Renew our leases, and stop here any run we no longer hold: another node took it
        over (our lease had lapsed) or ended it (a cancel by id)."""
        # Taken before the renewal is queued: each of these runs' creation was queued
        # earlier, so it is committed by the time the renewal runs.
        executing = list(self._active)
        held = set(await self._store.renew_leases(self._node_id, self._lease, self._clock()))
        for run_id in executing:
            active = self._active.get(run_id)
            if run_id in held or active is None or active.live.finishing is not None:
                continue
            logger.warning(
                "run %s is no longer held by this node (taken over or ended elsewhere): "
                "stopping it here",
                run_id,
            )
            active.task.cancel()

    async def _purge(self) -> None:
        """Delete runs finished longer than ``retention`` ago, a bounded amount per beat so
        a large backlog never holds the writer for long."""
        if self._retention is None:
            return
        before = self._clock() - self._retention
        purged = 0
        for _ in range(_PURGE_BATCHES):
            deleted = await self._store.purge_runs(before, _PURGE_BATCH)
            purged += deleted
            if deleted < _PURGE_BATCH:
                break
        if purged:
            logger.info("deleted %d runs finished more than %g s ago", purged, self._retention)

    async def _claim(self, *, own: bool) -> None:
        """Take over unfinished runs: a dead node's, and with ``own`` (at start) ours from
        before a restart; the heartbeat's claims leave ours alone (they are executing)."""
        claimed = await self._store.claim_runs(self._node_id, self._lease, self._clock(), own=own)
        orphaned = {r.run_id for runs in self._orphans.values() for r in runs}
        resumed = 0
        for run in claimed:
            if run.run_id in self._active or run.run_id in orphaned:
                continue
            registered = self._workflows.get(run.workflow_id)
            if registered is None:
                self._orphans.setdefault(run.workflow_id, []).append(run)
                continue
            self._launch(registered, run)
            resumed += 1
        if resumed:
            logger.info("resumed %d unfinished runs", resumed)

    def _check_capacity(self, principal: str | None) -> None:
        cap = self.max_runs_per_principal
        if principal is not None and cap is not None and self._running[principal] >= cap:
            raise TooManyRequestsError(
                f"{principal!r} has {cap} runs executing (max_runs_per_principal); wait for "
                "some to finish",
                retry_after=1,
                reason="ConcurrentRunLimitExceeded",
            )

    def _launch(self, registered: RegisteredWorkflow, run: RunRecord) -> _ActiveRun:
        live = LiveRun(run, metadata=registered.metadata)
        logger.debug(
            "run %s of workflow %r %s",
            run.run_id,
            run.workflow_id,
            f"resumes after {len(run.steps)} recorded step(s)" if run.steps else "starts",
        )
        lookup = self._resources.lookup(run.resources, trusted=run.principal is None)
        task = asyncio.create_task(
            self._executor.execute(registered.workflow, live, lookup),
            name=f"lockgate-run-{run.run_id}",
        )
        active = _ActiveRun(live, registered, task, lookup)
        self._active[run.run_id] = active
        if run.principal is not None:
            self._running[run.principal] += 1
        task.add_done_callback(lambda t: self._done(run.run_id, t))
        return active

    def _done(self, run_id: str, task: asyncio.Task[RunStatus]) -> None:
        active = self._active.get(run_id)
        if active is not None and active.task is task:  # not a later launch of the same run
            logger.debug("run %s ended %s", run_id, active.live.status.value)
            del self._active[run_id]
            active.lookup.release()
            principal = active.live.run.principal
            if principal is not None:
                self._running[principal] -= 1
                if not self._running[principal]:
                    del self._running[principal]
        if not task.cancelled() and (error := task.exception()) is not None:
            # The store failed: the run stays unfinished there, still ours; the next
            # heartbeat's claim takes our own runs back too and resumes it.
            self._reclaim_own = True
            logger.error("run %s could not be recorded: %r", run_id, error)

    # -- helpers ---------------------------------------------------------------------------

    def _live_response(self, active: _ActiveRun) -> WorkflowResponse:
        return self._response(active.registered, active.live.snapshot())

    @staticmethod
    def _response(registered: RegisteredWorkflow | None, run: RunRecord) -> WorkflowResponse:
        names = tuple(registered.workflow.steps) if registered else ()
        return WorkflowResponse.from_record(run, names)
