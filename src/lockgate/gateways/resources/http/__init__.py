"""The ``http_client`` resource type: a pooled ``httpx.AsyncClient``."""
