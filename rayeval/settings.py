"""All typed options of one command, in sections: the run's own and each benchmark's.

Sections are `run`, `engine`, `sampling`, `api` (models behind an API), `judge`, `sweep`, `report` and one per registered benchmark (named after
it). The command line is generated from `option_sections()` (`rayeval.cli_options`), and whatever
builds a run (the CLI, a config file, a test) hands `Settings.build` plain values per section and
gets validated, immutable models back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from rayeval.config import EngineConfig, RunOptions, SamplingConfig, SweepOptions
from rayeval.engine.api_config import ApiConfig
from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig
from rayeval.options import OptionsModel, option_ref
from rayeval.report.options import ReportOptions

M = TypeVar("M", bound=OptionsModel)

CORE_SECTIONS: dict[str, type[OptionsModel]] = {
    "run": RunOptions,
    "engine": EngineConfig,
    "sampling": SamplingConfig,
    "api": ApiConfig,
    "judge": JudgeConfig,
    "sweep": SweepOptions,
    "report": ReportOptions,
}


def benchmark_sections() -> dict[str, type[OptionsModel]]:
    """Each registered benchmark's options model, by benchmark name."""
    from rayeval.benchmarks import BENCHMARKS

    sections: dict[str, type[OptionsModel]] = {}
    for name in BENCHMARKS.names():
        if name in CORE_SECTIONS:
            raise RayevalError(f"a benchmark may not be called {name!r} (an options section of rayeval's own); rename it")
        sections[name] = BENCHMARKS.get(name).options_model
    return sections


def option_sections() -> dict[str, type[OptionsModel]]:
    """Every options section: the core ones, then each registered benchmark's."""
    return {**CORE_SECTIONS, **benchmark_sections()}


def validate_section(section: str, model: type[M], values: Mapping[str, Any]) -> M:
    """`model` from `values`; a bad value is one line naming the option and what is wrong."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not where:  # a rule across fields: the message names the options itself
            raise RayevalError(message) from None
        raise RayevalError(f"invalid {option_ref(f'{section}.{where}')}: {message}") from None


@dataclass(frozen=True)
class Settings:
    """Every option of a run, validated; sections a command does not use keep their defaults."""

    run: RunOptions = field(default_factory=RunOptions)
    engine: EngineConfig = field(default_factory=EngineConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    sweep: SweepOptions = field(default_factory=SweepOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
    benchmarks: dict[str, OptionsModel] = field(default_factory=dict)
    """Options of each registered benchmark, by benchmark name."""

    @classmethod
    def build(cls, values: Mapping[str, Mapping[str, Any]]) -> Settings:
        """Validate `values` (section → field → value); missing fields take their defaults."""
        return cls(
            run=validate_section("run", RunOptions, values.get("run", {})),
            engine=validate_section("engine", EngineConfig, values.get("engine", {})),
            sampling=validate_section("sampling", SamplingConfig, values.get("sampling", {})),
            api=validate_section("api", ApiConfig, values.get("api", {})),
            judge=validate_section("judge", JudgeConfig, values.get("judge", {})),
            sweep=validate_section("sweep", SweepOptions, values.get("sweep", {})),
            report=validate_section("report", ReportOptions, values.get("report", {})),
            benchmarks={name: validate_section(name, model, values.get(name, {})) for name, model in benchmark_sections().items()},
        )

    def options_for(self, benchmark: str) -> OptionsModel:
        """The options of `benchmark` (its defaults when the command did not set them)."""
        if benchmark in self.benchmarks:
            return self.benchmarks[benchmark]
        from rayeval.benchmarks import get

        return get(benchmark).options_model()
