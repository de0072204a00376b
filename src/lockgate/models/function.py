"""What a function is: its handler, its deadline, its environment and how it scales."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "ALIAS_PATTERN",
    "BACKENDS",
    "FUNCTION_NAME_PATTERN",
    "LAMBDA_ARN_PATTERN",
    "RUNTIMES",
    "FunctionEntity",
    "ScalingConfig",
]

# AWS allows letters, digits, hyphens and underscores, 1-64 characters.
FUNCTION_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HANDLER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# As AWS: letters, digits, '-' and '_', not all digits (that would be a version number).
ALIAS_PATTERN = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")
# arn:aws:lambda:us-east-1:123456789012:function:name[:qualifier], in any AWS partition.
LAMBDA_ARN_PATTERN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}"
    r"(:(\$LATEST|[a-zA-Z0-9-_]{1,128}))?$"
)
RUNTIMES = ("python", "provided")
"""``python``: Lockgate's own worker imports ``handler``. ``provided``: ``command`` is a
Lambda custom runtime that speaks the Runtime API (``awslambdaric``, a ``bootstrap``)."""
BACKENDS = ("local", "aws-lambda")
"""``local``: a pool of workers on this machine. ``aws-lambda``: invoked on AWS Lambda."""


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
        handler: For ``runtime="python"``, ``module:attribute``, imported once per worker;
            for ``provided``, whatever the runtime reads from ``_HANDLER`` (awslambdaric
            wants ``module.function``).
        code_dir: The folder the handler's module is imported from (the runtime's working
            directory and ``LAMBDA_TASK_ROOT``).
        timeout_seconds: The one deadline every layer derives its own from.
        memory_size_mb: Reported to the handler as ``context.memory_limit_in_mb``.
        environment: Variables set in the worker process.
        scaling: The pool's limits.
        runtime: ``python`` or ``provided`` (see ``RUNTIMES``).
        command: A ``provided`` runtime's argv, run in ``code_dir``.
        aliases: Qualifiers accepted besides ``$LATEST``; each runs this same code.
        backend: ``local`` or ``aws-lambda`` (see ``BACKENDS``).
        aws_arn: The AWS Lambda function an ``aws-lambda`` function is invoked as.
        image: A container image the function is packaged as (seed 004's ``.image``).
            Recorded and reported (``PackageType: Image`` in ``GetFunction``), not pulled:
            workers are processes on this machine, so ``handler`` (or ``command``) still
            says what runs.
    """

    name: str
    handler: str = ""
    code_dir: Path = field(default_factory=Path.cwd)
    timeout_seconds: float = 300.0
    memory_size_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    runtime: str = "python"
    command: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    backend: str = "local"
    aws_arn: str | None = None
    image: str | None = None
    _config_hash: str = field(init=False, repr=False, compare=False, default="")
    _arn: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if not FUNCTION_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"function name {self.name!r} must be 1-64 letters, digits, '-' or '_'"
            )
        self._check_code()
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
        for alias in self.aliases:
            if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
                raise ValueError(
                    f"function {self.name!r}: alias {alias!r} must be 1-128 letters, digits, "
                    "'-' or '_', and not all digits (that would be a version)"
                )
        object.__setattr__(self, "aliases", tuple(dict.fromkeys(self.aliases)))
        object.__setattr__(self, "command", tuple(self.command))
        # Frozen means frozen: nobody mutates the environment behind the config hash's back.
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))
        # Computed once: the pool manager compares it on every invocation.
        object.__setattr__(self, "_config_hash", self._digest())
        object.__setattr__(
            self,
            "_arn",
            self.aws_arn or f"arn:aws:lambda:us-east-1:000000000000:function:{self.name}",
        )

    def _check_code(self) -> None:
        """What runs the function must be fully and only described for its backend."""
        prefix = f"function {self.name!r}"
        if self.image is not None and (not isinstance(self.image, str) or not self.image.strip()):
            raise ValueError(
                f"{prefix}: image must be a non-empty image reference, got {self.image!r}"
            )
        if self.backend not in BACKENDS:
            raise ValueError(f"{prefix}: backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "aws-lambda":
            if self.aws_arn is None or not LAMBDA_ARN_PATTERN.match(self.aws_arn):
                raise ValueError(
                    f"{prefix}: backend 'aws-lambda' needs arn = 'arn:aws:lambda:REGION:"
                    f"ACCOUNT:function:NAME', got {self.aws_arn!r}"
                )
            return
        if self.aws_arn is not None:
            raise ValueError(f"{prefix}: arn is only for backend 'aws-lambda'")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"{prefix}: runtime must be one of {RUNTIMES}, got {self.runtime!r}")
        if self.runtime == "provided":
            if not self.command or not all(isinstance(a, str) and a for a in self.command):
                raise ValueError(
                    f"{prefix}: runtime 'provided' needs command, a non-empty list of "
                    "non-empty strings (e.g. ['python', '-m', 'awslambdaric', 'app.handler'])"
                )
            return
        if self.command:
            raise ValueError(f"{prefix}: command is only for runtime 'provided'")
        if not _HANDLER_PATTERN.match(self.handler):
            packaged = (
                f"; its image {self.image!r} is recorded, not run (workers are processes), "
                "so the handler says what runs"
                if self.image
                else ""
            )
            raise ValueError(
                f"{prefix}: handler {self.handler!r} must look like "
                f"'module:attribute' (e.g. 'handlers:echo'){packaged}"
            )

    @property
    def arn(self) -> str:
        """The unqualified ARN: the AWS one for ``aws-lambda``, a local one otherwise."""
        return self._arn

    def accepts_qualifier(self, qualifier: str | None) -> bool:
        """True for no qualifier, ``$LATEST`` and a declared alias."""
        return qualifier in (None, "$LATEST") or qualifier in self.aliases

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
            "runtime": self.runtime,
            "command": list(self.command),
            "backend": self.backend,
            "aws_arn": self.aws_arn,
        }
        if self.image is not None:  # only when set: other functions keep their hashes
            data["image"] = self.image
        encoded = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]
