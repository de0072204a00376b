"""``lockgate functions list`` and ``show``: a running gateway's functions, read through
the AWS Lambda API's ``ListFunctions`` and ``GetFunction`` (what boto3's ``list_functions``
and ``get_function`` see). Exit codes are :mod:`lockgate.controllers.cli.gateway_client`'s.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lockgate.controllers.cli.gateway_client import (
    DEFAULT_URL,
    JsonOption,
    TokenOption,
    UrlOption,
    gateway,
    table,
)
from lockgate.controllers.cli.render import echo_json, stderr, stdout

__all__ = ["functions_app"]

functions_app = typer.Typer(
    help="List and describe a gateway's functions.", no_args_is_help=True, rich_markup_mode=None
)

_PATH = "/2015-03-31/functions/"


def _runtime(configuration: dict[str, Any]) -> str:
    if configuration.get("PackageType") == "Image":
        return "image"
    return str(configuration.get("Runtime", "-"))


def _handler(configuration: dict[str, Any]) -> str:
    """The handler; an image function's is its ``Command``, as AWS reports it."""
    if "Handler" in configuration:
        return str(configuration["Handler"])
    image = configuration.get("ImageConfigResponse", {}).get("ImageConfig", {})
    return " ".join(map(str, image.get("Command", []))) or "-"


@functions_app.command("list")
def list_functions(
    *, as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, token: TokenOption = None
) -> None:
    """List the functions, by name."""
    found: list[dict[str, Any]] = []
    with gateway(url, token) as client:
        marker: str | None = None
        while True:  # ListFunctions answers 50 at a time, and where to go on
            page = client.call("GET", _PATH, params={"Marker": marker})
            found += page.get("Functions", [])
            marker = page.get("NextMarker")
            if not marker:
                break
    if as_json:
        echo_json({"Functions": found})
        return
    if not found:
        stderr().print("no functions: the gateway's lockgate.toml declares none")
        return
    console = stdout()
    rows = [
        [
            Text(str(f.get("FunctionName"))),
            Text(_runtime(f)),
            Text(f"{f.get('Timeout')} s"),
            Text(f"{f.get('MemorySize')} MB"),
            Text(_handler(f)),
        ]
        for f in found
    ]
    headers = ("name", "runtime", "timeout", "memory", "handler")
    console.print(table(headers, rows, console.width, right=("timeout", "memory")))


@functions_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The function's name (or ARN).")],
    *,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show a function's configuration, as GetFunction reports it."""
    with gateway(url, token) as client:
        found = client.call("GET", _PATH + quote(name, safe=""))
    if as_json:
        echo_json(found)
        return
    configuration: dict[str, Any] = found.get("Configuration", {})
    rows = [
        ("name", configuration.get("FunctionName")),
        ("arn", configuration.get("FunctionArn")),
        ("runtime", _runtime(configuration)),
        ("handler", _handler(configuration)),
        ("image", found.get("Code", {}).get("ImageUri")),
        ("timeout", f"{configuration.get('Timeout')} s"),
        ("memory", f"{configuration.get('MemorySize')} MB"),
        ("architectures", ", ".join(configuration.get("Architectures", []))),
        ("state", configuration.get("State")),
        ("description", configuration.get("Description")),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value is not None:
            grid.add_row(label, escape(str(value)))
    stdout().print(grid)
