"""Workflow runs and their step checkpoints: the run store's port, its schema and its
memory, SQLite (with group commit) and PostgreSQL adapters."""
