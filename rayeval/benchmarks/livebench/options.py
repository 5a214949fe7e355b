"""LiveBench's options, declared once (see `rayeval.options`)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, field_validator

from rayeval.options import ALL_PHASES, EVALUATE, OptionsModel, comma_list, option

DEFAULT_RELEASE = "2024-11-25"


class LiveBenchOptions(OptionsModel):
    """Which questions (release, tasks) and how scoring runs (workers, per-answer time limit)."""

    release: str = option(
        DEFAULT_RELEASE,
        description="Use questions released on or before this date and not removed by it, as the official tool does.",
        phases=ALL_PHASES,
    )
    tasks: Annotated[list[str] | None, BeforeValidator(comma_list)] = option(
        None, description="Comma-separated LiveBench categories or tasks [default: every task with data].", phases=ALL_PHASES
    )
    workers: int | None = option(None, description="Scoring processes [default: the usable cores, at most 8].", phases=EVALUATE, ge=1)
    item_timeout: float = option(
        300.0, description="Seconds one answer's scoring may take before it is recorded as an error.", phases=EVALUATE, gt=0
    )

    @field_validator("release")
    @classmethod
    def _is_date(cls, value: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(f"{value!r} is not a date; give one like {DEFAULT_RELEASE}")
        return value
