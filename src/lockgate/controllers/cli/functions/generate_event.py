"""``lockgate generate-event SERVICE``: a sample event in AWS's shape on stdout, as
``sam local generate-event`` prints one, to pass to ``lockgate invoke --event`` or keep as
a test's fixture. Exit codes: 0 printed, 2 a bad option (the message names it)."""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer

from lockgate.controllers.cli.params import BadInputError, parse_assignments
from lockgate.use_cases.invocations import sample_events

__all__ = ["generate_event_app"]

generate_event_app = typer.Typer(
    help="Print a sample event in the shape an AWS service sends it to a function.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Region = Annotated[str, typer.Option(help="The AWS region the event names.")]
Method = Annotated[str, typer.Option(help="The HTTP method.")]
Path = Annotated[str, typer.Option(help="The request path, with a query string if any.")]
Resource = Annotated[
    str | None,
    typer.Option(help="The route's path template, e.g. /users/{id} (the path by default)."),
]
Header = Annotated[
    list[str] | None, typer.Option("--header", "-H", metavar="K=V", help="A header (repeatable).")
]
Body = Annotated[str, typer.Option(help="The request body.")]
Stage = Annotated[str, typer.Option(help="The API's stage ($default: none in the path).")]


def _fail(message: str) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _print(event: dict[str, Any]) -> None:
    typer.echo(json.dumps(event, indent=2))


def _apigw(
    payload_format: str,
    *,
    method: str,
    path: str,
    resource: str | None,
    header: list[str] | None,
    body: str,
    stage: str,
) -> None:
    try:
        headers = dict(parse_assignments(header or [], "--header"))
        _print(
            sample_events.apigw(
                "1.0" if payload_format == "1.0" else "2.0",
                method=method,
                path=path,
                resource=resource,
                headers=headers,
                body=body,
                stage=stage,
            )
        )
    except (BadInputError, ValueError) as exc:
        _fail(str(exc))


@generate_event_app.command("apigw-v1")
def apigw_v1(
    *,
    method: Method = "GET",
    path: Path = "/",
    resource: Resource = None,
    header: Header = None,
    body: Body = "",
    stage: Stage = "prod",
) -> None:
    """An API Gateway REST API proxy event (payload format 1.0)."""
    _apigw(
        "1.0", method=method, path=path, resource=resource, header=header, body=body, stage=stage
    )


@generate_event_app.command("apigw-v2")
def apigw_v2(
    *,
    method: Method = "GET",
    path: Path = "/",
    resource: Resource = None,
    header: Header = None,
    body: Body = "",
    stage: Stage = "$default",
) -> None:
    """An API Gateway HTTP API event (payload format 2.0)."""
    _apigw(
        "2.0", method=method, path=path, resource=resource, header=header, body=body, stage=stage
    )


@generate_event_app.command("sqs")
def sqs(
    body: Annotated[str, typer.Option(help="The message body.")] = "Hello from SQS!",
    queue: Annotated[str, typer.Option(help="The queue's name.")] = "my-queue",
    attribute: Annotated[
        list[str] | None,
        typer.Option(metavar="K=V", help="A String message attribute (repeatable)."),
    ] = None,
    region: Region = "us-east-1",
) -> None:
    """An SQS event with one message."""
    try:
        attributes = dict(parse_assignments(attribute or [], "--attribute"))
    except BadInputError as exc:
        _fail(exc.message)
    _print(sample_events.sqs(body, queue=queue, region=region, attributes=attributes))


@generate_event_app.command("s3")
def s3(
    bucket: Annotated[str, typer.Option(help="The bucket's name.")] = "my-bucket",
    key: Annotated[str, typer.Option(help="The object's key.")] = "uploads/example.txt",
    event_name: Annotated[
        str,
        typer.Option(
            help="ObjectCreated:Put, ObjectCreated:Post, ObjectCreated:Copy or "
            "ObjectRemoved:Delete."
        ),
    ] = "ObjectCreated:Put",
    size: Annotated[int, typer.Option(min=0, help="The object's size in bytes.")] = 1024,
    region: Region = "us-east-1",
) -> None:
    """An S3 event notification for one object."""
    try:
        _print(sample_events.s3(bucket, key, event_name=event_name, size=size, region=region))
    except ValueError as exc:
        _fail(f"--event-name: {exc}")


@generate_event_app.command("eventbridge")
def eventbridge(
    source: Annotated[str, typer.Option(help="The event's source.")] = "com.example.orders",
    detail_type: Annotated[str, typer.Option(help="Its detail-type.")] = "Order Placed",
    detail: Annotated[str, typer.Option(help="Its detail, a JSON object.")] = "{}",
    region: Region = "us-east-1",
) -> None:
    """An EventBridge event, as a rule delivers it."""
    try:
        parsed = json.loads(detail)
    except ValueError as exc:
        _fail(f"--detail must be a JSON object: {exc}")
    if not isinstance(parsed, dict):
        _fail(f"--detail must be a JSON object, got {detail!r}")
    _print(sample_events.eventbridge(source, detail_type, parsed, region=region))


@generate_event_app.command("schedule")
def schedule(
    rule: Annotated[str, typer.Option(help="The schedule rule's name.")] = "my-schedule",
    region: Region = "us-east-1",
) -> None:
    """The event an EventBridge schedule (rate or cron) sends."""
    _print(sample_events.schedule(rule, region=region))
