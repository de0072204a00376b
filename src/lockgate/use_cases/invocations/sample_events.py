"""Sample events in the shapes AWS services send them to a Lambda function, for
``lockgate generate-event`` (as ``sam local generate-event``), to invoke a function with or
keep as a test's fixture.

API Gateway events come from the gateway's own ``EventBuilder``, so a sample is exactly
what a route would send; the others follow AWS's documentation of each service's event
(SQS, S3 notifications, EventBridge and its scheduled events). The account is
``000000000000``, as in every ARN Lockgate reports.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, urlsplit

from lockgate.models.context import InputContext
from lockgate.models.routing import PayloadFormat, Route, RouteTable
from lockgate.use_cases.apigw.events import EventBuilder

__all__ = ["ACCOUNT", "apigw", "eventbridge", "s3", "schedule", "sqs"]

ACCOUNT = "000000000000"


def _iso(epoch: float) -> str:
    """``2026-01-15T09:30:00.000Z``, as S3 and EventBridge write times (EventBridge
    without the milliseconds)."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"
    )


def apigw(
    payload_format: PayloadFormat,
    *,
    method: str = "GET",
    path: str = "/",
    resource: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway proxy event: ``1.0`` (REST API) or ``2.0`` (HTTP API).

    Args:
        path: The request's path, with its query string if any (``/users/7?lang=en``).
        resource: The route's path template (``/users/{id}``); the path itself by default.
        headers: Request headers (names are lower-cased, as the gateway sends them).

    Raises:
        ValueError: The method is not an HTTP method, or the path does not start with
            ``/`` or does not match ``resource``.
    """
    if not path.startswith("/"):
        raise ValueError(f"the path must start with '/', got {path!r}")
    parts = urlsplit(path)
    route = Route(method.upper(), resource or parts.path, "sample", payload_format)
    match = RouteTable([route]).match(route.method, parts.path)
    if match is None:
        raise ValueError(f"the path {parts.path!r} does not match the resource {route.path!r}")
    query: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        name, _, value = pair.partition("=")
        query[name] = f"{query[name]},{value}" if name in query else value
    given = {name.lower(): value for name, value in (headers or {}).items()}
    if body and "content-type" not in given:
        given["content-type"] = "application/json"
    context = InputContext(
        path=parts.path,
        method=route.method,
        headers={"host": "localhost", "user-agent": "lockgate", **given},
        query_params=query,
        body=body.encode(),
        user_id=None,
        request_id=str(uuid.uuid4()),
        raw_query_string=parts.query,
    )
    builder = EventBuilder(stage=stage, account_id=ACCOUNT)
    if payload_format == "1.0":
        return builder.build_v1(context, match)
    return builder.build_v2(context, match)


def sqs(
    body: str = "Hello from SQS!",
    *,
    queue: str = "my-queue",
    region: str = "us-east-1",
    attributes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An SQS event with one message; ``attributes`` become String message attributes."""
    sent = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent,
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": sent,
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value,
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": "String",
                    }
                    for name, value in (attributes or {}).items()
                },
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}",
                "awsRegion": region,
            }
        ]
    }


_S3_EVENTS = (
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectRemoved:Delete",
)


def s3(
    bucket: str = "my-bucket",
    key: str = "uploads/example.txt",
    *,
    event_name: str = "ObjectCreated:Put",
    size: int = 1024,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """An S3 event notification for one object (its key URL-encoded, as S3 sends it).

    Raises:
        ValueError: ``event_name`` is not one this sample knows.
    """
    if event_name not in _S3_EVENTS:
        raise ValueError(f"the S3 event must be one of {', '.join(_S3_EVENTS)}, got {event_name!r}")
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": f"{time.time_ns():X}"}
    if event_name.startswith("ObjectCreated"):  # a deleted object has no size nor ETag
        obj |= {"size": size, "eTag": hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()}
    request_id = uuid.uuid4().hex[:16].upper()
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": _iso(time.time()),
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:LOCKGATE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": request_id,
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "lockgate-sample",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCKGATE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def eventbridge(
    source: str = "com.example.orders",
    detail_type: str = "Order Placed",
    detail: Mapping[str, Any] | None = None,
    *,
    resources: list[str] | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    """An EventBridge event, as a rule delivers it to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": list(resources or []),
        "detail": dict(detail or {}),
    }


def schedule(rule: str = "my-schedule", *, region: str = "us-east-1") -> dict[str, Any]:
    """The event an EventBridge schedule rule (``rate(...)``/``cron(...)``) sends."""
    return eventbridge(
        "aws.events",
        "Scheduled Event",
        {},
        resources=[f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule}"],
        region=region,
    )
