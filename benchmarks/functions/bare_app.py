"""The physical limit: a bare Starlette echo app on uvicorn, with ``lockgate serve``'s own settings.

Same server settings as Lockgate's CLI (uvloop, httptools, one process, no access log, no log
config, no WebSockets), the same two request shapes the benchmark sends Lockgate, and nothing else:

* ``GET /echo/{name}`` answers ``{"name": name}``, as the echo function does behind a route;
* ``POST /2015-03-31/functions/{name}/invocations`` parses the JSON body and echoes it, as the
  Invoke API does with the echo function.

With ``--listener hardened`` it serves on Lockgate's hardened listener (the protocol and
limits ``lockgate serve`` uses, at their defaults) instead of uvicorn's stock httptools
protocol, so the two runs differ by the listener alone: that is how its cost is measured.

Run: ``python benchmarks/functions/bare_app.py --port 8001 [--listener stock|hardened]``.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lockgate.controllers.http.listener.limits import ListenerLimits
from lockgate.controllers.server_options import server_config


async def echo_name(request: Request) -> JSONResponse:
    return JSONResponse({"name": request.path_params["name"]})


async def echo_body(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


app = Starlette(
    routes=[
        Route("/echo/{name}", echo_name, methods=["GET"]),
        Route("/2015-03-31/functions/{name}/invocations", echo_body, methods=["POST"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--listener",
        choices=["stock", "hardened"],
        default="stock",
        help="uvicorn's httptools protocol (default), or Lockgate's hardened listener",
    )
    args = parser.parse_args()
    limits = ListenerLimits() if args.listener == "hardened" else None
    config = server_config(app, limits=limits, host=args.host, port=args.port, lifespan="off")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
