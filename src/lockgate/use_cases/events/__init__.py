"""The event bus between modules: delivered in memory or through a durable outbox, retried."""
