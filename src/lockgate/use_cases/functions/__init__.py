"""Functions: the registry, warm worker pools (``ContainerPool``, ``PoolManager``, the
``Janitor`` and the ``Scheduler``), the circuit breaker, and the ``LambdaInvoker`` that runs one
invocation on the backend a function names."""
