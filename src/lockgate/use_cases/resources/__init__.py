"""Resources that workflow steps ask for by name: database pools, HTTP clients, caches, queues."""
