"""The seed's resource workflows, as written there; only the imports changed.

- ``data_pipeline``: extract users from PostgreSQL, transform them, load them into a cache
  with a TTL (the seed's ETL workflow).
- ``api_aggregator``: PostgreSQL, an HTTP API and a cache used concurrently in one step.
- ``cached_pipeline``: checks a cache before doing expensive work. The seed's text reads
  ``cache_hit`` and ``data`` in its second step without connecting them and calls an
  ``expensive_operation`` it never defines; the connections and that function are the two
  additions made here so that it runs.
"""

from __future__ import annotations

from lockgate import AsyncWorkflowBuilder
from lockgate.models.workflow import Workflow


def data_pipeline() -> Workflow:
    return (
        AsyncWorkflowBuilder("data_pipeline")
        .add_async_code(
            "extract",
            """
db = await get_resource("source_db")
async with db.acquire() as conn:
    data = await conn.fetch("SELECT * FROM users")
    result = {"users": [dict(row) for row in data]}
""",
            required_resources=["source_db"],
        )
        .add_async_code(
            "transform",
            """
# Transform data
transformed = []
for user in users:
    transformed.append({
        "id": user["id"],
        "name": user["name"].upper(),
        "active": user["status"] == "active"
    })
result = {"transformed": transformed}
""",
        )
        .add_async_code(
            "load",
            """
cache = await get_resource("result_cache")
import json
for user in transformed:
    key = f"user:{user['id']}"
    await cache.setex(key, 3600, json.dumps(user))
result = {"loaded": len(transformed)}
""",
            required_resources=["result_cache"],
        )
        .add_connection("extract", "users", "transform", "users")
        .add_connection("transform", "transformed", "load", "transformed")
        .build()
    )


def api_aggregator() -> Workflow:
    return (
        AsyncWorkflowBuilder("api_aggregator")
        .add_async_code(
            "fetch_data",
            """
# Use multiple resources concurrently
import asyncio

async def fetch_users():
    db = await get_resource("user_db")
    async with db.acquire() as conn:
        return await conn.fetch("SELECT id, name FROM users")

async def fetch_orders():
    api = await get_resource("order_api")
    response = await api.get("/orders?limit=100")
    return await response.json()

async def cache_result(key, data):
    cache = await get_resource("cache")
    import json
    await cache.setex(key, 300, json.dumps(data))

# Fetch concurrently
users, orders = await asyncio.gather(
    fetch_users(),
    fetch_orders()
)

# Cache results
await asyncio.gather(
    cache_result("users:latest", [dict(u) for u in users]),
    cache_result("orders:latest", orders)
)

result = {
    "user_count": len(users),
    "order_count": len(orders)
}
""",
            required_resources=["user_db", "order_api", "cache"],
        )
        .build()
    )


def cached_pipeline() -> Workflow:
    return (
        AsyncWorkflowBuilder("cached_pipeline")
        .add_async_code(
            "check_cache",
            """
cache = await get_resource("cache")
import json

cache_key = f"pipeline:{input_key}"
cached = await cache.get(cache_key)

if cached:
    result = {"data": json.loads(cached), "cache_hit": True}
else:
    result = {"data": None, "cache_hit": False}
""",
            required_resources=["cache"],
        )
        .add_async_code(
            "process",
            """
import json

def expensive_operation(key):
    return {"key": key, "digest": sum(map(ord, key)) * 7919}

if cache_hit:
    result = {"processed": data}
else:
    # Heavy processing here
    processed = expensive_operation(input_key)

    # Cache for next time
    cache = await get_resource("cache")
    await cache.setex(
        f"pipeline:{input_key}",
        3600,
        json.dumps(processed)
    )

    result = {"processed": processed}
""",
            required_resources=["cache"],
        )
        .add_connection("check_cache", "cache_hit", "process", "cache_hit")
        .add_connection("check_cache", "data", "process", "data")
        .add_parameter("input_key", str)
        .build()
    )
