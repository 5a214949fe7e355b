"""Typed options, declared once.

Every setting a user can change is one field of a pydantic model, with its default and a
description, the way vLLM's config classes declare engine settings. Code reads the typed model,
never a dict of strings. The command line, the `--config` file check and the README's option
tables are all generated from these declarations (`rayeval.cli_options`), so a new option is one
new field and nothing else. A field says in which phases it matters, so each command shows only
the options it uses:

- `generate`: changes what is generated (and so the shard ids: a changed value never reuses work);
- `evaluate`: changes how outputs are scored;
- `data`: changes which data files are needed (`rayeval data pull`);
- `sweep`: only `rayeval sweep` has it (following a run folder that training still writes).
- `report`: `rayeval report` has it (how models are compared, where reports are logged).

Option *paths* (`"truthfulqa.version"`, `"judge.api_base"`) name an option everywhere below the
command line; `option_ref` puts one in an error message and the CLI shows it as its flag.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

Phase = Literal["generate", "evaluate", "data", "sweep", "report"]
ALL_PHASES: tuple[Phase, ...] = ("generate", "evaluate", "data")
"""The phases of options that decide what is generated, scored or downloaded. Not `sweep`: its
options only decide when a checkpoint is taken (the sweep command has every option of `generate`
and `evaluate` as well)."""
GENERATE: tuple[Phase, ...] = ("generate",)
EVALUATE: tuple[Phase, ...] = ("evaluate",)
GENERATE_EVALUATE: tuple[Phase, ...] = ("generate", "evaluate")
SWEEP: tuple[Phase, ...] = ("sweep",)
REPORT: tuple[Phase, ...] = ("report",)
REPORT_SWEEP: tuple[Phase, ...] = ("report", "sweep")


class OptionsModel(BaseModel):
    """Base of every options model: immutable (safe to share across Ray tasks and to hash into
    shard ids) and strict about unknown keys (a typo is an error, never a silent default).
    Validators are built on first use (`defer_build`): `rayeval --help` reads only the fields,
    and building every section's validator cost ~0.1 s of its start-up."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class NoOptions(OptionsModel):
    """Options of a benchmark that has none."""


def option(default: Any = None, *, description: str, phases: tuple[Phase, ...], **constraints: Any) -> Any:
    """A pydantic `Field` that also records the phases the option matters in."""
    return Field(default, description=description, json_schema_extra={"phases": list(phases)}, **constraints)


def field_phases(info: FieldInfo) -> tuple[Phase, ...]:
    """The phases a field was declared for (every phase when it says nothing)."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("phases"), list):
        return tuple(extra["phases"])  # type: ignore[arg-type]
    return ALL_PHASES


def comma_list(value: Any) -> Any:
    """Before-validator for list options: `"a, b"` (command line, YAML scalar) becomes `["a", "b"]`;
    an empty string is no list at all."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        return parts or None
    return value


def option_ref(path: str) -> str:
    """A reference to option `path` inside an error message. The CLI prints it as the flag
    (`--judge-api-base`); elsewhere it reads as the option path."""
    return f"⟨{path}⟩"
