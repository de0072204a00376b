"""Writing a ``lockgate.toml`` for a settings test, and reading the error it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import load_config
from lockgate.errors import ConfigError

__all__ = ["config_error", "write"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lockgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> ConfigError:
    """The error loading ``text`` gives; it must name the file."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in caught.value.message
    return caught.value
