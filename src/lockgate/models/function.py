"""What a function is: its handler, its deadline, its environment and how it scales."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = ["FUNCTION_NAME_PATTERN", "FunctionEntity", "ScalingConfig"]

# AWS allows letters, digits, hyphens and underscores, 1-64 characters.
FUNCTION_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True, slots=True)
class ScalingConfig:
    """How a function's worker pool scales.

    Attributes:
        min_warm: Workers the Scheduler keeps started even when idle.
        max_capacity: Workers at most; each serves one invocation at a time.
        max_queue: Callers allowed to wait for a worker; more are shed with 429.
        idle_ttl: Seconds an idle worker lives before the Janitor reaps it.
    """

    min_warm: int = 0
    max_capacity: int = 8
    max_queue: int = 256
    idle_ttl: float = 300.0

    def __post_init__(self) -> None:
        if self.max_capacity < 1:
            raise ValueError(f"scaling.max_capacity must be at least 1, got {self.max_capacity}")
        if not 0 <= self.min_warm <= self.max_capacity:
            raise ValueError(
                f"scaling.min_warm must be between 0 and max_capacity ({self.max_capacity}), "
                f"got {self.min_warm}"
            )
        if self.max_queue < 0:
            raise ValueError(f"scaling.max_queue must be 0 or more, got {self.max_queue}")
        if self.idle_ttl <= 0:
            raise ValueError(f"scaling.idle_ttl must be more than 0 seconds, got {self.idle_ttl}")


@dataclass(frozen=True, slots=True)
class FunctionEntity:
    """A declared function.

    Attributes:
        name: Unique name, as AWS spells function names.
        handler: ``module:attribute``, imported once per worker.
        code_dir: The folder the handler's module is imported from.
        timeout_seconds: The one deadline every layer derives its own from.
        memory_size_mb: Reported to the handler as ``context.memory_limit_in_mb``.
        environment: Variables set in the worker process.
        scaling: The pool's limits.
    """

    name: str
    handler: str
    code_dir: Path = field(default_factory=Path.cwd)
    timeout_seconds: float = 300.0
    memory_size_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    _config_hash: str = field(init=False, repr=False, compare=False, default="")
    _arn: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if not FUNCTION_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"function name {self.name!r} must be 1-64 letters, digits, '-' or '_'"
            )
        if not _HANDLER_PATTERN.match(self.handler):
            raise ValueError(
                f"function {self.name!r}: handler {self.handler!r} must look like "
                "'module:attribute' (e.g. 'handlers:echo')"
            )
        if not 0 < self.timeout_seconds <= 900:
            raise ValueError(
                f"function {self.name!r}: timeout must be more than 0 and at most 900 seconds, "
                f"got {self.timeout_seconds}"
            )
        if not 128 <= self.memory_size_mb <= 10240:
            raise ValueError(
                f"function {self.name!r}: memory_size must be 128-10240 MB, "
                f"got {self.memory_size_mb}"
            )
        for key, value in self.environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(
                    f"function {self.name!r}: environment entries must map strings to strings "
                    f"(key {key!r})"
                )
        # Frozen means frozen: nobody mutates the environment behind the config hash's back.
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))
        # Computed once: the pool manager compares it on every invocation.
        object.__setattr__(self, "_config_hash", self._digest())
        object.__setattr__(
            self, "_arn", f"arn:aws:lambda:us-east-1:000000000000:function:{self.name}"
        )

    @property
    def arn(self) -> str:
        return self._arn

    @property
    def config_hash(self) -> str:
        """A digest of everything that shapes a worker; a change means a new pool."""
        return self._config_hash

    def _digest(self) -> str:
        # asdict() cannot deep-copy the mappingproxy, so the fields are listed by hand.
        data = {
            "name": self.name,
            "handler": self.handler,
            "code_dir": str(self.code_dir),
            "timeout_seconds": self.timeout_seconds,
            "memory_size_mb": self.memory_size_mb,
            "environment": dict(self.environment),
            "scaling": asdict(self.scaling),
        }
        encoded = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]
