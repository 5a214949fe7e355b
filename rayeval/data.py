"""Where benchmark data comes from: `--data-dir`, the data packaged with rayeval, or the hub.

Order of lookup for a benchmark file (a path relative to the `--data-dir` layout, e.g.
``ifeval/input_data.jsonl``):

1. `--data-dir` when given (then only there: a missing file is an error, never a silent fallback);
2. the data shipped inside the rayeval package (IFEval and TruthfulQA, Apache-2.0), so the quick
   start runs offline;
3. the Hugging Face hub, downloaded once into rayeval's cache (`rayeval data pull` fills it
   ahead of time for air-gapped clusters).

Every file used is hashed into the run manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rayeval.errors import RayevalError
from rayeval.options import option_ref
from rayeval.user_cache import cache_root

DATA_DIR = option_ref("run.data_dir")

PACKAGED_DATA = Path(__file__).parent / "packaged_data"


@dataclass(frozen=True)
class HubFile:
    """A file of a hub dataset repo that stands in for a `--data-dir` file."""

    repo_id: str
    filename: str
    revision: str | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class DataSource:
    """Finds benchmark files and remembers which ones (with their hashes) a run used."""

    data_dir: Path | None = None
    cache_dir: Path | None = None
    used: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir).expanduser().resolve()
            if not self.data_dir.is_dir():
                raise RayevalError(f"{DATA_DIR} {self.data_dir} does not exist; pass a folder in the layout of the README")

    def find(self, relpath: str, hub: HubFile | None = None) -> Path:
        """Return a local path for `relpath`, downloading it from the hub when needed."""
        path = self._locate(relpath, hub)
        self.used[str(path)] = sha256_file(path)
        return path

    def _locate(self, relpath: str, hub: HubFile | None) -> Path:
        if self.data_dir is not None:
            path = self.data_dir / relpath
            if not path.is_file():
                raise RayevalError(f"{path} is missing from {DATA_DIR}; add it or drop {DATA_DIR} to use the default data")
            return path
        packaged = PACKAGED_DATA / relpath
        if packaged.is_file():
            return packaged
        if hub is None:
            raise RayevalError(f"no data for {relpath}: pass {DATA_DIR} with that file")
        return self._download(hub)

    def _download(self, hub: HubFile) -> Path:
        from huggingface_hub import hf_hub_download

        cache = self.cache_dir or cache_root()
        try:
            return Path(
                hf_hub_download(
                    repo_id=hub.repo_id,
                    filename=hub.filename,
                    revision=hub.revision,
                    repo_type="dataset",
                    cache_dir=str(Path(cache).expanduser() / "hub"),
                )
            )
        except Exception as exc:  # network, auth and missing-file errors all end the same way
            raise RayevalError(
                f"could not get {hub.filename} from hub dataset {hub.repo_id} ({type(exc).__name__}); "
                f"run `rayeval data pull` where the hub is reachable, or pass {DATA_DIR}"
            ) from exc
