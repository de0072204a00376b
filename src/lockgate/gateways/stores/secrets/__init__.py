"""Secrets' envelopes (sealed by the ``SecretManager``; stores never see a value): port,
schema, the rules every store applies, and the memory, SQLite, PostgreSQL and
environment-variable backends."""
