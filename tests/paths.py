"""Where the project and the workplace's shared folder are, for tests in any sub-folder.

`SHARED` is `../shared` beside the project root: reference data (tests that read it say so)."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
