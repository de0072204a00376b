"""The ``database`` resource type: an asyncpg pool, or SQLite behind asyncpg's pool API."""
