"""File I/O helpers every layer uses: atomic writes, a strict JSONL reader and a YAML reader.

Every file is written to a temporary name in the same folder, flushed, fsynced and renamed, so a
crash never leaves a half-written file under a final name. Which paths exist is the result
store's business (`rayeval.store`); this module only knows how to write one file safely.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rayeval.errors import RayevalError

_UMASK = os.umask(0)
os.umask(_UMASK)
"""The process's umask, read once at import (reading it means setting it, which is not safe once
threads run): `mkstemp` creates files 0600, and results on a shared disk must be readable by the
team as any file the user writes would be."""
FILE_MODE = 0o666 & ~_UMASK


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see either the old file or the whole new one.

    A write the system refuses (a full disk, a quota, a read-only or unwritable folder) is one
    line naming the file and the fix: it stops the run, the old file stays, and a rerun resumes
    from what was already written (`rayeval.store`'s shard journal)."""
    try:
        _write_then_rename(path, data)
    except OSError as exc:
        raise RayevalError(
            f"cannot write {path} ({exc.strerror or exc}); make room on its disk or make it writable, then run the same command again"
        ) from exc


def _write_then_rename(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text version of `atomic_write_bytes`. A character UTF-8 cannot encode (a lone
    surrogate, which an API's JSON may carry as `\\udcff` in a model's answer) is written as its
    escape, so the file stays valid UTF-8, a JSON reader reads back the same string, and one odd
    answer never fails the whole file."""
    atomic_write_bytes(path, text.encode("utf-8", errors="backslashreplace"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Pretty JSON, UTF-8, non-ASCII kept readable."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    """One JSON document per line."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file; a malformed line is a one-line error naming the file and line."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RayevalError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or delete that line") from exc
    return rows


def read_yaml(path: Path, what: str, path_hint: str) -> Any:
    """The YAML document in `path`; an unreadable file or bad YAML is one line naming `what` the
    file is (e.g. "run file") and, for a bad path, `path_hint` (what to check)."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RayevalError(f"cannot read {what} {path}: {exc.strerror}; {path_hint}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RayevalError(f"{what} {path} is not valid YAML{at}; fix its syntax") from None
