"""The peer's own virtualenv: Kailash and its server extra, kept apart from Lockgate's.

Kailash pins its own FastAPI, Starlette and uvicorn (and pulls in ~50 distributions), so it
gets a separate venv; ``kailash_side.py`` runs under that venv's python and reports JSON.

    python benchmarks/workflows/kailash_env.py   # creates it if needed, prints its python
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

__all__ = ["DEFAULT_VENV", "KAILASH_VERSION", "ensure_kailash_venv"]

KAILASH_VERSION = "2.65.0"
DEFAULT_VENV = Path(__file__).resolve().parent / ".kailash-venv"

# fastapi comes only with the server extra, without which kailash.gateway does not import.
_PROBE = "import fastapi, kailash; print(kailash.__version__)"


def _python(path: Path) -> Path:
    return path / "bin" / "python"


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", _PROBE], capture_output=True, text=True, check=False, env=os.environ
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1] if done.returncode == 0 and lines else None


def ensure_kailash_venv(path: Path = DEFAULT_VENV) -> Path:
    """The python of a venv at ``path`` holding ``kailash[server]`` at KAILASH_VERSION."""
    python = _python(path)
    found = _installed_version(python)
    if found == KAILASH_VERSION:
        return python
    if not python.exists():
        print(f"kailash venv: creating {path}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    print(
        f"kailash venv: installing kailash[server]=={KAILASH_VERSION} (found {found})",
        file=sys.stderr,
    )
    # pip's own output goes to stderr so that a caller's stdout stays clean.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"kailash[server]=={KAILASH_VERSION}"],
        check=True,
        stdout=sys.stderr,
        env=os.environ,
    )
    found = _installed_version(python)
    if found != KAILASH_VERSION:
        raise RuntimeError(f"kailash venv at {path}: expected {KAILASH_VERSION}, found {found}")
    print(f"kailash venv: ready, kailash {found}", file=sys.stderr)
    return python


if __name__ == "__main__":
    print(ensure_kailash_venv())
