"""Settings that `make run` chose, kept in the instance folder beside the generated keys.

`make run` serves the demo with the LinkedIn sandbox, a name and its own URL (``PORT``), and
writes them to ``instance/development.env``, so that every other command of the same
checkout (``syndicate doctor``, ``posts dispatch``, ``scheduler``) works on the same demo
instead of on real LinkedIn. The environment always wins, and production never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

FILENAME = "development.env"


def read(instance_path: Path) -> dict[str, str]:
    """``SYNDICATE_NAME=value`` lines of the file; blank lines and ``#`` comments skipped."""
    try:
        text = (instance_path / FILENAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        name, equals, value = line.strip().partition("=")
        if equals and name.startswith("SYNDICATE_"):
            values[name] = value
    return values


def with_instance_settings(environ: Mapping[str, str], instance_path: Path) -> dict[str, str]:
    """The environment, plus what make run chose where the environment says nothing."""
    if environ.get("SYNDICATE_ENV") == "production":
        return dict(environ)
    return {**read(instance_path), **environ}
