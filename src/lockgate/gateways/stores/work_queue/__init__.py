"""The leased, retried, dead-lettered work queue that event deliveries and ``Event``
invocations share: one port, one implementation per backend."""
