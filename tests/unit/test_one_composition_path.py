"""Start-up and SIGHUP reload put a config in force through the same ``Application.apply``:
a gateway built with a config and one built empty, then reloaded with it, serve the same
functions, routes, workflows, shared resources, security and limits; and a config start-up
would refuse, a reload refuses too, changing nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from lockgate.application import Application
from lockgate.bootstrap import build
from lockgate.config.settings import load_config
from lockgate.errors import ConfigError
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.resource import ResourceReference
from lockgate.settings import Settings

EXAMPLE = Path(__file__).parents[2] / "examples" / "hello" / "lockgate.toml"


def in_force(application: Application) -> dict[str, Any]:
    """What a config decides about a running gateway, in comparable form."""
    limits = application.security.limits
    return {
        "functions": sorted(application.registry.all(), key=lambda f: f.name),
        "routes": [(r.method, r.path, r.function) for r in application.routes.routes],
        "workflows": sorted(w.workflow_id for w in application.workflows.workflows()),
        "shared_resources": sorted(application.shared_resources),
        "registered_resources": sorted(application.resources.shared_names()),
        "security": application.security,
        "limits": [
            (limiter.rate, limiter.burst)
            for limiter in (application.limiter, application.auth_failures)
        ]
        + [(limits.rate, limits.burst)],
        "cors": application.processor.cors,
        "max_runs_per_principal": application.workflows.max_runs_per_principal,
    }


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, GatewayConfig]:
    monkeypatch.chdir(EXAMPLE.parent)  # the example's builders import from its folder
    config, _ = load_config(EXAMPLE)
    settings = Settings(run_store="memory://", config=EXAMPLE)
    limits = dataclasses.replace(config.security.limits, rate=7.0, burst=11)
    security = dataclasses.replace(config.security, limits=limits)
    resources = {
        **config.resources,
        "cache": ResourceReference.from_dict({"type": "cache", "config": {}}),
    }
    return settings, dataclasses.replace(config, security=security, resources=resources)


def test_start_up_and_reload_put_a_config_in_force_alike(
    example: tuple[Settings, GatewayConfig],
) -> None:
    settings, config = example
    started_with = build(settings, config)
    reloaded = build(settings)
    reloaded.apply(config)
    assert in_force(started_with) == in_force(reloaded)
    assert in_force(started_with)["limits"] == [(7.0, 11)] * 3
    assert "cache" in in_force(started_with)["registered_resources"]


def test_what_start_up_refuses_a_reload_refuses_and_nothing_changes(
    example: tuple[Settings, GatewayConfig],
) -> None:
    settings, config = example
    bad = dataclasses.replace(
        config,
        resources={"db": ResourceReference.from_dict({"type": "nosuch", "config": {}})},
    )
    with pytest.raises(ConfigError, match="nosuch") as at_start:
        build(settings, bad)
    running = build(settings, config)
    before = in_force(running)
    with pytest.raises(ConfigError, match="nosuch") as at_reload:
        running.apply(bad)
    assert str(at_start.value) == str(at_reload.value)
    assert in_force(running) == before
