"""Durable events between modules and their deliveries (the outbox): port, schema, adapters."""
