"""Persistent cache of judge responses, so a rerun never pays for the same request twice.

One JSON file per entry, named by the SHA-256 of (judge model, full request body), written
atomically: concurrent writers of the same entry both write complete files and the last rename
wins with identical content, so no lock is needed. The key is never part of the request body or
the entry, so nothing secret is stored. Only successful responses are cached: failures are
retried on the next run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rayeval.files import atomic_write_json


def request_digest(model: str, request: dict[str, Any]) -> str:
    """Stable hash of what the judge is asked: canonical JSON of the model and the body."""
    payload = json.dumps({"model": model, "request": request}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """Files under `root/<2 hex>/<digest>.json` holding `{"model", "request", "response"}`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, model: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The cached response body, or None (an unreadable entry counts as missing)."""
        path = self._path(request_digest(model, request))
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        response = entry.get("response") if isinstance(entry, dict) else None
        return response if isinstance(response, dict) else None

    def put(self, model: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        atomic_write_json(self._path(request_digest(model, request)), {"model": model, "request": request, "response": response})
