"""One step each: use the resource the caller passed inline, return what it answered."""

from __future__ import annotations

from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder


def build_fetch() -> AsyncWorkflowBuilder:
    """GET ``url`` with the ``api`` http_client: its status and body."""
    return AsyncWorkflowBuilder("fetch").add_async_code(
        "get",
        """
api = await get_resource("api")
response = await api.get(url)
result = {"status": response.status_code, "body": response.text}
""",
        required_resources=["api"],
    )


def build_query() -> AsyncWorkflowBuilder:
    """``SELECT 1`` on the ``db`` database."""
    return AsyncWorkflowBuilder("query").add_async_code(
        "select",
        'db = await get_resource("db")\nresult = {"one": await db.fetchval("SELECT 1")}',
        required_resources=["db"],
    )
