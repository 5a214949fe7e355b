"""Installed entry points of a group, remembered between runs in the user cache.

Reading entry points scans the metadata of every installed distribution: ~35 ms with vLLM's few
hundred dependencies, plus ~20 ms to import `importlib.metadata`, which `rayeval --help` would
pay to list each benchmark's options. The answer is kept in `entry-points.json` under the user
cache, stamped with the modification time of every folder on `sys.path`: installing, upgrading
or removing a distribution adds or removes a `*.dist-info` folder in one of them, which changes
that folder's time, so a changed installation is scanned again. The file is written only into a
cache folder that exists already (rayeval makes it for the models and data it caches): looking
up a name never creates folders in the user's home.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rayeval.errors import RayevalError
from rayeval.files import atomic_write_json
from rayeval.user_cache import cache_root

CACHE_FILE = "entry-points.json"


def _stamp() -> list[Any]:
    """What the installed distributions depend on: the import path and each folder's time."""
    times: list[int | None] = []
    for entry in sys.path:
        try:
            times.append(os.stat(entry or ".").st_mtime_ns)
        except OSError:
            times.append(None)
    return [sys.version, sys.path, times]


def _read_cache() -> dict[str, Any]:
    try:
        cached = json.loads((cache_root() / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def installed_entry_points(group: str) -> dict[str, str]:
    """Name → `"module:object"` of every installed entry point of `group`."""
    stamp = _stamp()
    cached = _read_cache()
    groups: dict[str, dict[str, str]] = cached.get("groups", {}) if cached.get("stamp") == stamp else {}
    if group in groups:
        return dict(groups[group])
    from importlib import metadata

    groups[group] = {entry.name: entry.value for entry in metadata.entry_points(group=group)}
    if cache_root().is_dir():
        try:
            atomic_write_json(cache_root() / CACHE_FILE, {"stamp": stamp, "groups": groups})
        except RayevalError:  # an unwritable cache costs the next run the scan, nothing else
            pass
    return dict(groups[group])
