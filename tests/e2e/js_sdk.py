"""The AWS SDK for JavaScript v3 (``@aws-sdk/client-lambda``) as a real client: installed
from the npm registry with the machine's Node.js, exactly as ``node/package-lock.json``
pins it, once per lock, into a cache folder outside the repository; then driven by
``node/lambda_calls.cjs``.

A missing Node.js or npm, or a failed install, fails the test that needs them: the SDK is
one of the clients the Lambda API promises to work with, so it is never skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

__all__ = ["js_sdk_modules", "run_js"]

NODE_DIR = Path(__file__).parent / "node"
_FILES = ("package.json", "package-lock.json")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"the JavaScript SDK tests need {name} (Node.js 18 or later with npm: "
            "apt-get install nodejs npm)"
        )
    return found


def js_sdk_modules() -> Path:
    """The ``node_modules`` folder holding the SDK; ``npm ci`` runs when this lock has no
    folder yet (into a temporary one renamed at the end, so a folder that exists is whole,
    and two test runs installing at once cannot mix their files)."""
    npm = _tool("npm")
    _tool("node")
    lock = hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "lockgate-tests" / f"js-sdk-{lock}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="js-sdk-", dir=folder.parent))
        for name in _FILES:
            shutil.copy(NODE_DIR / name, staging / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm ci of {NODE_DIR / 'package.json'} failed:\n{done.stderr[-3000:]}")
        try:
            staging.rename(folder)
        except OSError:  # another run finished first: its folder is as good
            shutil.rmtree(staging, ignore_errors=True)
    return folder / "node_modules"


def run_js(modules: Path, job: dict[str, Any], home: Path) -> list[dict[str, Any]]:
    """Run ``job`` (see ``lambda_calls.cjs``) with Node.js; one result per call.

    Args:
        modules: From ``js_sdk_modules``.
        job: The endpoint, region, keys and calls.
        home: An empty folder for ``HOME``: no ``~/.aws`` of the developer's is read.
    """
    done = subprocess.run(
        [_tool("node"), str(NODE_DIR / "lambda_calls.cjs"), json.dumps(job)],
        env={"PATH": os.environ["PATH"], "NODE_PATH": str(modules), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
