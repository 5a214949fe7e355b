"""Installed entry points are remembered between runs and scanned again when the installation
changes (`rayeval.entry_points`). Real distributions: `*.dist-info` folders on `sys.path` in a
fresh interpreter, the way pip leaves them; the scan counter wraps the real
`importlib.metadata.entry_points`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LOOKUP = """
import json, sys
from importlib import metadata
scans = []
real = metadata.entry_points
metadata.entry_points = lambda **kw: scans.append(kw) or real(**kw)
from rayeval.entry_points import installed_entry_points
print(json.dumps({"found": installed_entry_points("rayeval.benchmarks"), "scans": len(scans)}))
"""


def install(site: Path, name: str, entry: str) -> None:
    """A distribution's metadata, as pip writes it."""
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[rayeval.benchmarks]\n{entry}\n")


def lookup(site: Path, cache: Path, cwd: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site), "RAYEVAL_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", LOOKUP], capture_output=True, text=True, timeout=60, env=env, cwd=cwd or site)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_entry_points_are_scanned_once_then_again_after_an_install(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    install(site, "first", "one = first.spec:BENCHMARK")
    assert lookup(site, cache) == {"found": {"one": "first.spec:BENCHMARK"}, "scans": 1}
    assert lookup(site, cache) == {"found": {"one": "first.spec:BENCHMARK"}, "scans": 0}  # from the cache
    install(site, "second", "two = second.spec:BENCHMARK")
    assert lookup(site, cache) == {"found": {"one": "first.spec:BENCHMARK", "two": "second.spec:BENCHMARK"}, "scans": 1}


def test_each_import_path_keeps_its_own_answer(tmp_path: Path) -> None:
    """`python -c` from two folders: two import paths, each scanned once, then both remembered."""
    site, cache, elsewhere = tmp_path / "site", tmp_path / "cache", tmp_path / "elsewhere"
    cache.mkdir()
    elsewhere.mkdir()
    install(site, "first", "one = first.spec:BENCHMARK")
    assert [lookup(site, cache)["scans"], lookup(site, cache, cwd=elsewhere)["scans"]] == [1, 1]
    assert [lookup(site, cache)["scans"], lookup(site, cache, cwd=elsewhere)["scans"]] == [0, 0]


def test_no_cache_folder_is_created_for_it(tmp_path: Path) -> None:
    """Looking names up must not create folders in the user's home (a dry run leaves nothing)."""
    site, cache = tmp_path / "site", tmp_path / "absent"
    install(site, "first", "one = first.spec:BENCHMARK")
    assert lookup(site, cache)["scans"] == 1
    assert lookup(site, cache)["scans"] == 1
    assert not cache.exists()


def test_a_broken_cache_file_is_scanned_over(tmp_path: Path) -> None:
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    install(site, "first", "one = first.spec:BENCHMARK")
    (cache / "entry-points.json").write_text("{not json")
    assert lookup(site, cache) == {"found": {"one": "first.spec:BENCHMARK"}, "scans": 1}
    assert lookup(site, cache)["scans"] == 0
