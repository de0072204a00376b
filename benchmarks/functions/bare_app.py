"""The physical limit: a bare Starlette echo app on uvicorn, with ``lockgate serve``'s own settings.

Same server settings as Lockgate's CLI (uvloop, httptools, one process, no access log, no log
config), the same two request shapes the benchmark sends Lockgate, and nothing else:

* ``GET /echo/{name}`` answers ``{"name": name}``, as the echo function does behind a route;
* ``POST /2015-03-31/functions/{name}/invocations`` parses the JSON body and echoes it, as the
  Invoke API does with the echo function.

Run: ``python benchmarks/functions/bare_app.py --port 8001``.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lockgate.controllers.server_options import SERVER_OPTIONS


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
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        lifespan="off",
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main()
