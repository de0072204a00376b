"""Every port Lockgate's use cases speak to, in one place. Implementations are named by
technology.

Each family defines its ports beside its adapters and this module re-exports them all, so a
reader finds every Protocol here and use cases import them from here alone:

- ``stores/runs/ports.py``: ``IRunStore``, ``StepWrite``
- ``stores/events/ports.py``: ``IEventStore``
- ``stores/invocations/ports.py``: ``IAsyncInvocationStore``
- ``stores/jobs/ports.py``: ``IJobStore``
- ``stores/secrets/ports.py``: ``ISecretStore``
- ``stores/credentials/ports.py``: ``ICredentialStore``, ``UsageKey``
- ``resources/ports.py``: ``IResourceResolver``, ``IInlineResourceResolver``, ``IEgressGuard``
- ``workers/ports.py``: ``IWorker``, ``IWorkerLauncher``, ``IInvocationBackend``
- ``job_runners/ports.py``: ``IJobRunner``
- ``metrics/ports.py``: ``IInvocationMetrics``, ``IAsyncInvocationMetrics``, ``IWorkflowMetrics``
- ``auth/ports.py``: ``IKeySetFetcher``
- ``aws/ports.py``: ``ISigV4Signer``

Each Protocol is ``@runtime_checkable`` so the composition root can assert what it wires.
"""

from __future__ import annotations

from lockgate.gateways.auth.ports import IKeySetFetcher
from lockgate.gateways.aws.ports import ISigV4Signer
from lockgate.gateways.job_runners.ports import IJobRunner
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
from lockgate.gateways.stores.secrets.ports import ISecretStore
from lockgate.gateways.workers.ports import IInvocationBackend, IWorker, IWorkerLauncher

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
