"""The tables a ``lockgate.toml`` declares besides functions and jobs: ``[[routes]]``,
``[workflows.NAME]``, ``[resources.NAME]`` and ``[modules.NAME]``, and the file's top level.

Each builder checks its tables key by key, adds a problem for each bad value and keeps the
good ones, so the caller can report every problem at once. A name that refers to another
table (a route's function, a module's dependency) that is not declared gets a "did you mean".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from lockgate.config.problems import Expect, Loc, Problems, check, did_you_mean
from lockgate.config.security import CorsTable, cors_config
from lockgate.config.tables import STRICT, code_dir
from lockgate.models.function import FUNCTION_NAME_PATTERN
from lockgate.models.gateway_config import WorkflowDeclaration
from lockgate.models.module import ModuleDeclaration
from lockgate.models.resource import RESOURCE_NAME, ResourceReference
from lockgate.models.routing import HTTP_METHODS, Route

__all__ = [
    "RESERVED_PATHS",
    "RESERVED_PREFIXES",
    "FileTable",
    "ModuleTable",
    "ResourceTable",
    "RouteTable",
    "WorkflowTable",
    "build_modules",
    "build_resources",
    "build_routes",
    "build_workflows",
    "is_reserved_path",
]

_STRICT = STRICT

# Paths the gateway serves itself (the Invoke API, the workflow API, operations endpoints,
# the docs): a request for one never reaches a declared route, so declaring one is an error.
RESERVED_PREFIXES = (
    "/2015-03-31/",
    "/_lockgate/",
    "/workflows/",
    "/runs/",
    "/secrets/",
    "/modules/",
    "/events/",
    "/invocations/",
    "/jobs/",
    "/tokens/",
    "/api-keys/",
    "/functions/",
)
RESERVED_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/health",
        "/metrics",
        "/workflows",
        "/runs",
        "/secrets",
        "/modules",
        "/events",
        "/invocations",
        "/jobs",
        "/tokens",
        "/api-keys",
    }
)


def is_reserved_path(path: str) -> bool:
    """True when the gateway itself serves ``path`` (a request path or a route's path)."""
    return path in RESERVED_PATHS or path.startswith(RESERVED_PREFIXES)


_HANDLER = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"


def _http_method(value: str) -> str:
    method = value.upper()
    if method not in HTTP_METHODS:
        raise ValueError("")  # empty: the field's Expect already says it all
    return method


def _route_path(value: str) -> str:
    Route("ANY", value, "_")  # the domain's own path rules, raising ValueError with the reason
    return value


class RouteTable(BaseModel):
    model_config = _STRICT

    method: Annotated[
        str, AfterValidator(_http_method), Expect("one of " + ", ".join(sorted(HTTP_METHODS)))
    ]
    path: Annotated[
        str, AfterValidator(_route_path), Expect("a path like '/hello/{name}' or '/files/{path+}'")
    ]
    function: str
    payload_format: Literal["1.0", "2.0"] = "2.0"
    cors: CorsTable | None = None
    authorizer: str | None = Field(default=None, min_length=1)
    scopes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    api_key_required: bool = False


class WorkflowTable(BaseModel):
    model_config = _STRICT

    builder: Annotated[
        str, Field(pattern=_HANDLER), Expect("'module:function' (e.g. 'pipelines:build')")
    ]
    description: str = ""
    required_resources: list[str] = Field(default_factory=list)
    code_dir: str | None = None


_DOTTED = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"


class ModuleTable(BaseModel):
    model_config = _STRICT

    name: str | None = None
    services_module: Annotated[
        str, Field(pattern=_DOTTED), Expect("a dotted module path (e.g. 'app.users.services')")
    ]
    dependencies: list[str] = Field(default_factory=list)
    provides: list[str] = Field(default_factory=list)
    code_dir: str | None = None
    package: Annotated[
        str | None, Field(pattern=_DOTTED), Expect("a dotted package path (e.g. 'app.users')")
    ] = None


class ResourceTable(BaseModel):
    model_config = _STRICT

    type: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    credentials_ref: str | None = None


class FileTable(BaseModel):
    """Only the shape of the top level; each function and route is validated on its own."""

    model_config = _STRICT

    gateway: dict[str, Any] = Field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[dict[str, Any]] = Field(default_factory=list)
    workflows: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    auth: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)
    cors: dict[str, Any] = Field(default_factory=dict)
    authorizers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    usage_plans: dict[str, dict[str, Any]] = Field(default_factory=dict)
    aws_credentials: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tracing: dict[str, Any] = Field(default_factory=dict)


def build_workflows(
    raw: Mapping[str, Any], base: Path, problems: Problems
) -> dict[str, WorkflowDeclaration]:
    workflows: dict[str, WorkflowDeclaration] = {}
    for name, item in raw.items():
        prefix: Loc = ("workflows", name)
        if not FUNCTION_NAME_PATTERN.match(name):
            problems.add(
                prefix, f"expected a name of 1-64 letters, digits, '-' or '_', got {name!r}"
            )
            continue
        table = check(WorkflowTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        workflows[name] = WorkflowDeclaration(
            name=name,
            builder=table.builder,
            code_dir=code_dir(base, table.code_dir, prefix, problems),
            description=table.description,
            required_resources=tuple(table.required_resources),
        )
    return workflows


def build_resources(raw: Mapping[str, Any], problems: Problems) -> dict[str, ResourceReference]:
    resources: dict[str, ResourceReference] = {}
    for name, item in raw.items():
        prefix: Loc = ("resources", name)
        if not RESOURCE_NAME.fullmatch(name):
            problems.add(
                prefix,
                f"expected a letter or _ then up to 127 letters, digits, _ . -, got {name!r}",
            )
            continue
        table = check(ResourceTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        try:
            resources[name] = ResourceReference(table.type, table.config, table.credentials_ref)
        except ValueError as exc:
            problems.add(prefix, str(exc))
    return resources


def build_modules(
    raw: Mapping[str, Any], base: Path, problems: Problems
) -> dict[str, ModuleDeclaration]:
    modules: dict[str, ModuleDeclaration] = {}
    for key, item in raw.items():
        prefix: Loc = ("modules", key)
        table = check(ModuleTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        try:
            modules[key] = ModuleDeclaration(
                key=key,
                name=table.name or key,
                services_module=table.services_module,
                dependencies=tuple(table.dependencies),
                provides=tuple(table.provides),
                code_dir=code_dir(base, table.code_dir, prefix, problems),
                package=table.package,
            )
        except ValueError as exc:
            problems.add(prefix, str(exc))
    # Dependencies name other [modules.KEY] tables; the graph's cycles are checked at start.
    for key, item in raw.items():
        dependencies = item.get("dependencies") if isinstance(item, dict) else None
        for index, dep in enumerate(dependencies if isinstance(dependencies, list) else []):
            if isinstance(dep, str) and dep not in raw:
                problems.add(
                    ("modules", key, "dependencies", index),
                    f"expected a declared module ({', '.join(raw) or 'none declared'}), "
                    f"got {dep!r}{did_you_mean(dep, raw)}",
                )
    return modules


# Routes that differ only in parameter names match the same requests.
_PARAM_NAME = re.compile(r"\{[^/}]*?(\+?)\}")


def build_routes(raw: list[Any], declared: set[str], problems: Problems) -> list[tuple[int, Route]]:
    """The valid routes, each with its index in ``[[routes]]`` (for later checks' keys)."""
    routes: list[tuple[int, Route]] = []
    seen: dict[tuple[str, str], tuple[int, Route]] = {}
    for index, item in enumerate(raw):
        prefix: Loc = ("routes", index)
        table = check(RouteTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:  # a non-table item was already reported by FileTable
            continue
        if table.function not in declared:
            problems.add(
                (*prefix, "function"),
                f"expected a declared function ({', '.join(sorted(declared)) or 'none declared'}), "
                f"got {table.function!r}{did_you_mean(table.function, declared)}",
            )
        try:
            route = Route(
                table.method,
                table.path,
                table.function,
                table.payload_format,
                authorizer=table.authorizer,
                scopes=tuple(dict.fromkeys(table.scopes)),
                api_key_required=table.api_key_required,
                cors=cors_config(table.cors, (*prefix, "cors"), problems),
            )
        except ValueError as exc:
            problems.add((*prefix, "path"), f"invalid path: {exc}")
            continue
        if is_reserved_path(route.path):
            problems.add(
                (*prefix, "path"),
                f"expected a path the gateway does not serve itself, got {route.path!r} "
                f"(reserved: {', '.join(sorted(RESERVED_PATHS))} and everything under "
                f"{', '.join(RESERVED_PREFIXES)})",
            )
            continue
        shape = (route.method, _PARAM_NAME.sub(r"{\1}", route.path))
        first_index, first = seen.setdefault(shape, (index, route))
        if first_index != index:
            problems.add(
                prefix,
                f"{route.route_key!r} duplicates routes[{first_index}] ({first.route_key!r})",
            )
            continue
        routes.append((index, route))
    return routes
