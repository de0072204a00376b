"""The ``cache`` resource type: Redis, or an embedded cache shaped like ``redis.asyncio``."""
