"""``lockgate generate-event`` prints events in AWS's shapes: each is checked against
Powertools' parser models (written from AWS's documentation and real events, independently
of us), and its options land where AWS puts them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
    EventBridgeModel,
    S3Model,
    SqsModel,
)
from pydantic import BaseModel
from typer.testing import CliRunner

from lockgate.controllers.cli.main import app


def generate(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["generate-event", *args])
    assert result.exit_code == 0, result.output
    event: dict[str, Any] = json.loads(result.stdout)
    return event


@pytest.mark.parametrize(
    ("service", "model"),
    [
        ("apigw-v1", APIGatewayProxyEventModel),
        ("apigw-v2", APIGatewayProxyEventV2Model),
        ("sqs", SqsModel),
        ("s3", S3Model),
        ("eventbridge", EventBridgeModel),
        ("schedule", EventBridgeModel),
    ],
)
def test_every_service_prints_an_event_powertools_parses(
    service: str, model: type[BaseModel]
) -> None:
    model.model_validate(generate(service))


def test_api_gateway_events_carry_the_request_as_a_route_would() -> None:
    args = ["--method", "post", "--path", "/users/7?lang=en", "--resource", "/users/{id}"]
    args += ["-H", "X-Trace=abc", "--body", '{"name": "ann"}']

    raw = generate("apigw-v1", *args)
    v1 = APIGatewayProxyEventModel.model_validate(raw)
    assert (v1.httpMethod, v1.path, v1.resource) == ("POST", "/users/7", "/users/{id}")
    assert v1.pathParameters == {"id": "7"}
    assert v1.queryStringParameters == {"lang": "en"}
    assert v1.headers["x-trace"] == "abc"
    assert v1.requestContext.stage == "prod"
    assert json.loads(raw["body"]) == {"name": "ann"}

    v2 = APIGatewayProxyEventV2Model.model_validate(generate("apigw-v2", *args))
    assert v2.routeKey == "POST /users/{id}"
    assert (v2.rawPath, v2.rawQueryString) == ("/users/7", "lang=en")
    assert v2.pathParameters == {"id": "7"}
    assert v2.requestContext.http.method == "POST"
    assert v2.requestContext.stage == "$default"


def test_sqs_s3_and_eventbridge_options_land_where_aws_puts_them() -> None:
    message = SqsModel.model_validate(
        generate("sqs", "--body", "hi", "--queue", "orders", "--attribute", "kind=new")
    ).Records[0]
    assert message.body == "hi"
    assert message.eventSourceARN == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert message.messageAttributes["kind"].stringValue == "new"

    s3 = generate("s3", "--bucket", "media", "--key", "in box/a b.txt", "--region", "eu-west-1")
    record = S3Model.model_validate(s3).Records[0]
    assert record.s3.bucket.name == "media"
    assert record.awsRegion == "eu-west-1"
    assert s3["Records"][0]["s3"]["object"]["key"] == "in+box/a+b.txt"  # URL-encoded, as S3 does
    deleted = generate("s3", "--event-name", "ObjectRemoved:Delete")["Records"][0]
    assert "size" not in deleted["s3"]["object"]

    custom = EventBridgeModel.model_validate(
        generate(
            "eventbridge", "--source", "shop", "--detail-type", "Paid", "--detail", '{"id": 1}'
        )
    )
    assert (custom.source, custom.detail_type, custom.detail) == ("shop", "Paid", {"id": 1})
    scheduled = EventBridgeModel.model_validate(generate("schedule", "--rule", "nightly"))
    assert (scheduled.source, scheduled.detail_type) == ("aws.events", "Scheduled Event")
    assert scheduled.resources == ["arn:aws:events:us-east-1:000000000000:rule/nightly"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apigw-v2", "--path", "users"], "the path must start with '/', got 'users'"),
        (
            ["apigw-v1", "--path", "/a", "--resource", "/b/{id}"],
            "the path '/a' does not match the resource '/b/{id}'",
        ),
        (["apigw-v1", "--method", "FETCH"], "method 'FETCH' must be one of"),
        (["apigw-v2", "-H", "nope"], "--header expects k=v, got 'nope'"),
        (["sqs", "--attribute", "x"], "--attribute expects k=v, got 'x'"),
        (["s3", "--event-name", "ObjectCreated:*"], "--event-name: the S3 event must be one of"),
        (["eventbridge", "--detail", "[1]"], "--detail must be a JSON object, got '[1]'"),
        (["eventbridge", "--detail", "{"], "--detail must be a JSON object: Expecting"),
    ],
)
def test_a_bad_option_is_named_and_exits_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["generate-event", *args])
    assert result.exit_code == 2
    assert message in result.stderr
