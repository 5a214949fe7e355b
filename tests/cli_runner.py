"""The real `rayeval` command in a subprocess, for the tests of the command line.

By default the command gets a bare environment (PATH, the project importable, HOME in the
working folder, a wide terminal so one-line errors stay on one line, and what the test adds), which also shows it needs nothing from
the caller's environment. Runs that start real engines inherit the caller's environment instead
(the venv's and vLLM's variables) minus the variables that would point it at another cluster or
hand it a real key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paths import PROJECT

NOT_INHERITED = ("RAY_ADDRESS", "OPENAI_API_KEY")
"""A test's command must start its own Ray and must never send a real key anywhere."""


def run_rayeval(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, inherit_env: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run `python -m rayeval ARGS`; the completed process with text stdout/stderr."""
    if inherit_env:
        base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    else:
        base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT)}
        if cwd is not None:
            base["HOME"] = str(cwd)  # the user cache and config rayeval may write stay in the test's folder
    return subprocess.run(
        [sys.executable, "-m", "rayeval", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**base, "COLUMNS": "250", **(env or {})},
    )
