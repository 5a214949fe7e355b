"""Installed entry points of a group, remembered between runs in the user cache.

Reading entry points scans the metadata of every installed distribution: ~35 ms with vLLM's few
hundred dependencies, plus ~20 ms to import `importlib.metadata`, which `rayeval --help` would
pay to list each benchmark's options. The answer is kept in `entry-points.json` under the user
cache, per import path (`sys.path`), stamped with the modification time of each of its folders:
installing, upgrading or removing a distribution adds or removes a `*.dist-info` folder in one
of them, which changes that folder's time, so a changed installation is scanned again. The file is written only into a
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
KEPT_PATHS = 8
"""Import paths remembered at once: the console script, `python -m rayeval` from a few folders
and Ray's workers each have their own `sys.path`, and one slot would make them rescan in turn."""


def _import_path() -> list[str]:
    """`sys.path` with the current folder (`""`, under `python -c`) spelled out."""
    return [os.path.abspath(entry or ".") for entry in sys.path]


def _times(folders: list[str]) -> list[int | None]:
    """The modification time of each of `folders` (None for one that does not exist)."""
    times: list[int | None] = []
    for folder in folders:
        try:
            times.append(os.stat(folder).st_mtime_ns)
        except OSError:
            times.append(None)
    return times


def _read_cache() -> dict[str, Any]:
    try:
        cached = json.loads((cache_root() / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def installed_entry_points(group: str) -> dict[str, str]:
    """Name → `"module:object"` of every installed entry point of `group`."""
    folders = _import_path()
    key, times = json.dumps([sys.version, folders]), _times(folders)
    cache = _read_cache()
    entry = cache.pop(key, None)
    fresh = isinstance(entry, dict) and entry.get("times") == times and isinstance(entry.get("groups"), dict)
    groups: dict[str, dict[str, str]] = entry["groups"] if fresh else {}
    if group in groups:
        return dict(groups[group])
    from importlib import metadata

    groups[group] = {point.name: point.value for point in metadata.entry_points(group=group)}
    if cache_root().is_dir():
        earlier = [(path, slot) for path, slot in cache.items() if isinstance(slot, dict)]
        kept = dict(earlier[-(KEPT_PATHS - 1) :])
        kept[key] = {"times": times, "groups": groups}
        try:
            atomic_write_json(cache_root() / CACHE_FILE, kept)
        except RayevalError:  # an unwritable cache costs the next run the scan, nothing else
            pass
    return dict(groups[group])
