"""Every port Lockgate's use cases speak to, in one place. Implementations are named by
technology.

Each family defines its ports beside its adapters and this module re-exports them all, so a
reader finds every Protocol here and use cases import them from here alone:

- ``stores/runs/ports.py``: ``IRunStore``, ``StepWrite``
- ``stores/events/ports.py``: ``IEventStore``
- ``stores/invocations/ports.py``: ``IAsyncInvocationStore``
- ``stores/work_queue/ports.py``: ``IWorkQueueStore``
- ``stores/jobs/ports.py``: ``IJobStore``
- ``stores/secrets/ports.py``: ``ISecretStore``, ``ISecretReader``, ``ISecretBackend``
- ``stores/credentials/ports.py``: ``ICredentialStore``, ``UsageKey``
- ``resources/ports.py``: ``IResourceResolver``, ``IInlineResourceResolver``, ``IEgressGuard``
- ``workers/ports.py``: ``IWorker``, ``IWorkerLauncher``, ``IInvocationBackend``,
  ``IFunctionCaller``
- ``job_runners/ports.py``: ``IJobRunner``
- ``metrics/ports.py``: ``IInvocationMetrics``, ``IAsyncInvocationMetrics``, ``IWorkflowMetrics``
- ``auth/ports.py``: ``IKeySetFetcher``, ``IBearerVerifier``
- ``aws/ports.py``: ``ISigV4Signer``
- ``logs/ports.py``: ``ILogLines``
- ``watch/ports.py``: ``IFileWatcher``
- ``tracing/ports.py``: ``ITracer``, ``ISpan`` (and ``NO_TRACER``, the default: tracing off)

Each Protocol is ``@runtime_checkable`` so the composition root can assert what it wires,
and each method's docstring has the sections seed 000 asks for: Args, Returns, Raises, Side
Effects, and a Note naming the external calls its implementations make
(``tests/seeds/test_seed_000.py`` checks them).
"""

from __future__ import annotations

from lockgate.gateways.auth.ports import IBearerVerifier, IKeySetFetcher
from lockgate.gateways.aws.ports import ISigV4Signer
from lockgate.gateways.job_runners.ports import IJobRunner
from lockgate.gateways.logs.ports import ILogLines
from lockgate.gateways.metrics.ports import (
    IAsyncInvocationMetrics,
    IInvocationMetrics,
    IWorkflowMetrics,
)
from lockgate.gateways.resources.ports import (
    IEgressGuard,
    IInlineResourceResolver,
    IResourceResolver,
)
from lockgate.gateways.stores.credentials.ports import ICredentialStore, UsageKey
from lockgate.gateways.stores.events.ports import IEventStore
from lockgate.gateways.stores.invocations.ports import IAsyncInvocationStore
from lockgate.gateways.stores.jobs.ports import IJobStore
from lockgate.gateways.stores.runs.ports import IRunStore, StepWrite
from lockgate.gateways.stores.secrets.ports import ISecretBackend, ISecretReader, ISecretStore
from lockgate.gateways.stores.work_queue.ports import IWorkQueueStore
from lockgate.gateways.tracing.ports import NO_TRACER, ISpan, ITracer
from lockgate.gateways.watch.ports import IFileWatcher
from lockgate.gateways.workers.ports import (
    IFunctionCaller,
    IInvocationBackend,
    IWorker,
    IWorkerLauncher,
)

__all__ = [
    "NO_TRACER",
    "IAsyncInvocationMetrics",
    "IAsyncInvocationStore",
    "IBearerVerifier",
    "ICredentialStore",
    "IEgressGuard",
    "IEventStore",
    "IFileWatcher",
    "IFunctionCaller",
    "IInlineResourceResolver",
    "IInvocationBackend",
    "IInvocationMetrics",
    "IJobRunner",
    "IJobStore",
    "IKeySetFetcher",
    "ILogLines",
    "IResourceResolver",
    "IRunStore",
    "ISecretBackend",
    "ISecretReader",
    "ISecretStore",
    "ISigV4Signer",
    "ISpan",
    "ITracer",
    "IWorkQueueStore",
    "IWorker",
    "IWorkerLauncher",
    "IWorkflowMetrics",
    "StepWrite",
    "UsageKey",
]
