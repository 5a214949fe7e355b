"""The small interface every benchmark implements.

A benchmark is one folder (`rayeval/benchmarks/<name>/`, or a package outside rayeval) whose
`spec.py` defines `BENCHMARK = <instance>` and is registered by name (`rayeval.benchmarks`). It
declares its options as a typed model, loads its items, turns them into engine requests, writes
its generation files from the results, and scores those files. It never touches Ray or vLLM, and
no other module knows its formats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from rayeval.data import DataSource
from rayeval.judge.config import JudgeConfig
from rayeval.options import NoOptions, OptionsModel
from rayeval.requests import Request, Result

OptionsT = TypeVar("OptionsT", bound=OptionsModel)


@dataclass(frozen=True)
class Item:
    """One benchmark prompt. `key` is unique within the benchmark and stable across runs."""

    key: str
    data: dict[str, Any]


@dataclass
class EvalContext(Generic[OptionsT]):
    """What a benchmark's scorer gets: where the files are, the data, its options and the judge's.

    `judge.cache_dir` is always set (the result store's judge cache unless the user chose one)."""

    model_id: str
    out_dir: Path
    data: DataSource
    options: OptionsT
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    judge_service: str | None = None
    """Name of the job's shared judge service (a named Ray actor), when one runs: judged
    benchmarks send their requests there, so limits hold across every model of a sweep. None: the
    benchmark opens a judge pool of its own."""
    limit: int | None = None
    """Generation ran on the first `limit` items only (`--limit`): score exactly those."""
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a problem worth the user's attention that does not stop scoring (the CLI
        prints these after the scores)."""
        self.warnings.append(message)


@dataclass(frozen=True)
class Score:
    """One summary row: `{"benchmark", "metric", "value"}` in the summaries file, plus, for a
    metric that aggregates items, its item count, standard error and 95% interval
    (`rayeval.report.summary.with_uncertainty` fills them in)."""

    metric: str
    value: float | None
    n: int | None = None
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def as_row(self, benchmark: str) -> dict[str, Any]:
        row: dict[str, Any] = {"benchmark": benchmark, "metric": self.metric, "value": self.value}
        if self.stderr is not None:
            row.update(n=self.n, stderr=self.stderr, ci_low=self.ci_low, ci_high=self.ci_high)
        return row


@dataclass(frozen=True)
class MetricItems:
    """Per-item scores of one summary metric, keyed by item id (the same ids for every model, so
    two models pair item by item), and how they aggregate to the metric, as lighteval splits a
    sample-level metric from its corpus-level aggregation:

    `scale` × Σ values / Σ weights over the items (weights 1 when None: a mean; IFEval's
    instruction level weighs each prompt by its instruction count, so resampling prompts keeps
    their instructions together); with `groups` (a path of equal length per item, e.g. LiveBench's
    (category, task)) that ratio is taken per leaf group, then averaged level by level up to one
    number (LiveBench's overall is the mean of category means of task means).
    """

    values: dict[str, float]
    weights: dict[str, float] | None = None
    groups: dict[str, tuple[str, ...]] | None = None
    scale: float = 1.0


class Benchmark(ABC, Generic[OptionsT]):
    """Base class of benchmarks."""

    name: ClassVar[str]
    """Registered name (`-b NAME`); its options appear as `--NAME-<option>`."""
    results_dirname: ClassVar[str]
    """Folder under `results/<model_id>/`."""
    version: ClassVar[str]
    """Version of this implementation's prompts and scoring; recorded in `run.json` and hashed
    into shard ids, so a change of prompts never reuses old generations."""
    options_model: ClassVar[type[OptionsModel]] = NoOptions
    """The benchmark's typed options (every field with a default and a description)."""
    default_max_tokens: ClassVar[int] = 1024
    headline_metrics: ClassVar[tuple[str, ...]] = ()
    """The summary metrics that tables across models show, in this order (all rows stay in the
    summaries file)."""
    own_stderr: ClassVar[dict[str, str]] = {}
    """Metrics whose standard error the scorer reports itself, as another summary metric
    (AlpacaEval: `win_rate` → `standard_error`): that one is kept instead of rayeval's."""

    def default_options(self) -> OptionsT:
        """The options with every default, for library use and tests."""
        return self.options_model()  # type: ignore[return-value]

    @abstractmethod
    def load_items(self, data: DataSource, options: OptionsT) -> list[Item]:
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
    def evaluate(self, ctx: EvalContext[OptionsT]) -> list[Score]:
        """Score the generation files in `ctx.out_dir`, write the benchmark's result files and
        return the summary rows."""

    def judges(self, options: OptionsT, judge: JudgeConfig) -> list[JudgeConfig]:
        """The judges scoring calls with these options and the job's judge settings (none by
        default). A sweep asks, to hold back judged scoring that needs an in-cluster judge while
        the engines hold the resources such a judge would start on."""
        return []

    def pull(self, data: DataSource, options: OptionsT) -> None:
        """Download everything this benchmark needs from the hub into the cache
        (`rayeval data pull`). Loading the items does it for most benchmarks."""
        self.load_items(data, options)

    def item_scores(self, out_dir: Path) -> dict[str, MetricItems]:
        """Per-item scores of the summary metrics that aggregate items, read from the result
        files `evaluate` wrote in `out_dir` (none by default: the report then shows values
        without intervals or paired tests)."""
        return {}

    def generation_done(self, out_dir: Path) -> bool:
        return all((out_dir / name).is_file() for name in self.generation_files())
