"""Where rayeval keeps what it builds or downloads for the user: built-in models, hub files."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RAYEVAL_CACHE_DIR"


def cache_root() -> Path:
    """`RAYEVAL_CACHE_DIR`, else `~/.cache/rayeval`."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "rayeval")).expanduser()
