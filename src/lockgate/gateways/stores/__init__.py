"""Stores: each family's port beside its adapters (memory, SQLite, PostgreSQL)."""
