"""The small interface every benchmark plugin implements.

A benchmark is one module in `rayeval/benchmarks/` that defines `BENCHMARK = <instance>`. It
loads its items, turns them into engine requests, writes its generation files from the results,
and scores those files. It never touches Ray or vLLM, and no other module knows its formats:
adding a benchmark is adding one file (plus scorer helpers under `rayeval/scoring/` if big).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rayeval.data import DataSource
from rayeval.requests import Request, Result


@dataclass(frozen=True)
class Item:
    """One benchmark prompt. `key` is unique within the benchmark and stable across runs."""

    key: str
    data: dict[str, Any]


@dataclass
class EvalContext:
    """What a benchmark's scorer gets: where the files are, the data, and its options."""

    model_id: str
    out_dir: Path
    data: DataSource
    options: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    """Generation ran on the first `limit` items only (`--limit`): score exactly those."""
    warnings: list[str] = field(default_factory=list)

    @property
    def results_root(self) -> Path:
        """The results folder: `out_dir` is `<results-dir>/<model_id>/<benchmark folder>`."""
        return self.out_dir.parent.parent

    def warn(self, message: str) -> None:
        """Record a problem worth the user's attention that does not stop scoring (the CLI
        prints these after the scores)."""
        self.warnings.append(message)


@dataclass(frozen=True)
class Score:
    """One summary row: `{"benchmark", "metric", "value"}` in the summaries file."""

    metric: str
    value: float | None

    def as_row(self, benchmark: str) -> dict[str, Any]:
        return {"benchmark": benchmark, "metric": self.metric, "value": self.value}


class Benchmark(ABC):
    """Base class of benchmark plugins."""

    name: ClassVar[str]
    """CLI name (`-b NAME`)."""
    results_dirname: ClassVar[str]
    """Folder under `results/<model_id>/`."""
    default_max_tokens: ClassVar[int] = 1024

    @abstractmethod
    def load_items(self, data: DataSource, options: dict[str, Any]) -> list[Item]:
        """All items in input order (the order output files follow)."""

    @abstractmethod
    def build_requests(self, items: list[Item]) -> list[Request]:
        """Engine requests for `items`; request keys must be unique within the benchmark."""

    @abstractmethod
    def generation_files(self) -> list[str]:
        """Files (relative to the benchmark folder) whose presence means generation is done."""

    @abstractmethod
    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        """Write the generation files from `results` (keyed by request key), in item order."""

    @abstractmethod
    def evaluate(self, ctx: EvalContext) -> list[Score]:
        """Score the generation files in `ctx.out_dir`, write the benchmark's result files and
        return the summary rows."""

    def pull(self, data: DataSource, options: dict[str, Any]) -> None:
        """Download everything this benchmark needs from the hub into the cache
        (`rayeval data pull`). Loading the items does it for most benchmarks."""
        self.load_items(data, options)

    def generation_done(self, out_dir: Path) -> bool:
        return all((out_dir / name).is_file() for name in self.generation_files())
