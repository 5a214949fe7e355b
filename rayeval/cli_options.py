"""The command line's options, generated from the typed option models (the CLI edge).

Every option is declared once, as a field of an options model (`rayeval.settings.option_sections`).
This module turns those fields into typer options for the commands that use them, the commands'
values back into `Settings`, option paths in error messages into flags, and the README's option
tables into text. Flag names exist here and nowhere else:

- a field of `run`, `engine`, `sampling`, `sweep` or `report` is `--<field>`; of any other section (the judge, each
  benchmark) `--<section>-<field>`; underscores become dashes; booleans get `--x/--no-x`;
- `FLAG_OVERRIDES` keeps the short and historic names users know (`-t/--tp-size`, `-g/--gpu-mem`).

`python -m rayeval.cli_options README.md` rewrites the README's generated option tables.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from typer.core import TyperCommand

from rayeval.errors import RayevalError
from rayeval.options import Phase, field_phases
from rayeval.settings import Settings, option_sections

UNPREFIXED_SECTIONS = frozenset({"run", "engine", "sampling", "sweep", "report"})
FLAG_OVERRIDES: dict[str, tuple[str, ...]] = {
    "engine.tp_size": ("-t", "--tp-size"),
    "engine.gpu_memory_utilization": ("-g", "--gpu-mem"),
    "run.benchmarks": ("-b", "--benchmarks"),
}
REFUSED_FLAGS: dict[tuple[str, ...], str] = {
    ("-p", "--port"): (
        "rayeval starts no server for the models it evaluates (vLLM runs inside Ray actors) and its in-cluster "
        "judge picks a free port itself, so there is no port to set; to evaluate a model you already serve, "
        "pass openai:NAME@http://HOST:PORT/v1 or list it in a run file (api_base) for `rayeval run`"
    ),
}
"""Options of the shell scripts rayeval replaces that mean nothing here: accepted by the commands
that generate (hidden), and refused in one line that says why and what to use instead."""
ENVVARS: dict[str, str] = {"run.results_dir": "RAYEVAL_RESULTS_DIR"}
PANELS: dict[str, str] = {
    "run": "Run",
    "engine": "Engine",
    "sampling": "Sampling",
    "api": "API models",
    "judge": "Judge",
    "sweep": "Watch",
    "report": "Report",
}
_REF = re.compile(r"⟨([A-Za-z0-9_]+\.[A-Za-z0-9_]+)⟩")


@dataclass(frozen=True)
class CliOption:
    """One generated option: the field it sets and how the command line spells it."""

    section: str
    field: str
    info: FieldInfo
    flags: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"{self.section}.{self.field}"

    @property
    def long_flag(self) -> str:
        return next(flag for flag in self.flags if flag.startswith("--"))

    @property
    def param(self) -> str:
        """The Python parameter name, which is also the config-file key (`tp_size`)."""
        return self.long_flag.removeprefix("--").replace("-", "_")

    @property
    def value_type(self) -> Any:
        """The field's type without `None`."""
        return _without_none(self.info.annotation)

    @property
    def is_flag(self) -> bool:
        return self.value_type is bool

    @property
    def secret(self) -> bool:
        return self.value_type is SecretStr

    @property
    def default(self) -> Any:
        value = self.info.get_default(call_default_factory=True)
        return ",".join(value) if isinstance(value, list) else value

    def help(self) -> str:
        text = render_refs(self.info.description or "")  # descriptions name other options by path
        if typing.get_origin(self.value_type) is Literal:
            text += " One of: " + ", ".join(str(choice) for choice in typing.get_args(self.value_type)) + "."
        return text

    def declarations(self) -> tuple[str, ...]:
        """The flags as typer declares them (`--x/--no-x` for a boolean)."""
        if not self.is_flag:
            return self.flags
        return tuple(f"{flag}/--no-{flag.removeprefix('--')}" if flag.startswith("--") else flag for flag in self.flags)

    @functools.cached_property
    def parameter(self) -> inspect.Parameter:
        """The typer parameter for this option (made once: most options belong to several
        commands, and typer copies what it is given)."""
        kind = self.value_type
        if self.is_flag or kind in (int, float, Path):
            python_type: Any = kind
        else:  # str, SecretStr, Literal choices and comma-separated lists all arrive as text
            python_type = str
        if self.default is None:
            python_type = Optional[python_type]  # noqa: UP045 (typer reads typing.Optional)
        typer_option = typer.Option(
            *self.declarations(),
            help=self.help(),
            envvar=ENVVARS.get(self.path),
            rich_help_panel=PANELS.get(self.section, f"{self.section} benchmark"),
            show_default=not self.secret and self.default is not None,
        )
        return inspect.Parameter(
            self.param, inspect.Parameter.KEYWORD_ONLY, default=self.default, annotation=Annotated[python_type, typer_option]
        )


class PanelledCommand(TyperCommand):
    """A command whose help shows its options in sections (`PANELS`: Run, Engine, ... one per
    benchmark), in click's plain help format. typer's rich help does the same with boxes, but
    its formatter imports rich's Markdown, syntax and traceback renderers: ~0.2 s, half of what
    `rayeval --help` may take (bench/bench_startup.py)."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:  # hidden
                continue
            title = "Arguments" if param.param_type_name == "argument" else getattr(param, "rich_help_panel", None) or "Options"
            sections.setdefault(title, []).append(record)
        for title, records in sections.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return annotation


def _flags(section: str, field: str) -> tuple[str, ...]:
    path = f"{section}.{field}"
    if path in FLAG_OVERRIDES:
        return FLAG_OVERRIDES[path]
    name = field if section in UNPREFIXED_SECTIONS else f"{section}_{field}"
    return ("--" + name.replace("_", "-"),)


@functools.cache
def all_options() -> tuple[CliOption, ...]:
    """Every option of every section, in declaration order; flags are checked to be unique."""
    options = tuple(
        CliOption(section, name, info, _flags(section, name))
        for section, model in option_sections().items()
        for name, info in model.model_fields.items()
    )
    seen: dict[str, str] = {}
    for option in options:
        for flag in option.flags:
            if flag in seen:
                raise RuntimeError(f"options {seen[flag]} and {option.path} both want the flag {flag}; rename one")
            seen[flag] = option.path
    return options


def options_for(phases: Iterable[Phase]) -> list[CliOption]:
    """The options that matter in any of `phases`."""
    wanted = set(phases)
    return [option for option in all_options() if wanted & set(field_phases(option.info))]


def flag(path: str) -> str:
    """The long flag of option `path` (`judge.api_base` → `--judge-api-base`); the path itself
    for an option with no flag."""
    return _long_flags().get(path, path)


@functools.cache
def _long_flags() -> dict[str, str]:
    return {option.path: option.long_flag for option in all_options()}


def render_refs(message: str) -> str:
    """An error message with its option references (`rayeval.options.option_ref`) as flags."""
    return _REF.sub(lambda match: flag(match.group(1)), message)


def secret_params() -> frozenset[str]:
    """Parameter names of options that hold secrets (never taken from a config file)."""
    return frozenset(option.param for option in all_options() if option.secret)


def settings_from(values: dict[str, Any], options: list[CliOption]) -> Settings:
    """`Settings` from a command's option values (keyed by parameter name)."""
    sections: dict[str, dict[str, Any]] = {}
    for option in options:
        sections.setdefault(option.section, {})[option.field] = values[option.param]
    return Settings.build(sections)


COMMAND_LINE_SOURCES = frozenset({"COMMANDLINE", "ENVIRONMENT"})
"""Where an option's value counts as given by the user (click's `ParameterSource` names), as
opposed to its default or a `--config` file's default."""


def settings_over(base: Mapping[str, Mapping[str, Any]], ctx: Any, phases: Iterable[Phase]) -> Settings:
    """`Settings` from `base` (section → field → value, e.g. a run file's) with the command's
    options of `phases` laid over it: an option given on the command line or through its
    environment variable wins over `base`; where `base` is silent, the option's value (its default,
    or a `--config` file's) applies. `ctx` is the command's click context."""
    sections = {name: dict(values) for name, values in base.items()}
    for option in options_for(phases):
        source = ctx.get_parameter_source(option.param)
        given = source is not None and source.name in COMMAND_LINE_SOURCES
        if given or option.field not in sections.get(option.section, {}):
            sections.setdefault(option.section, {})[option.field] = ctx.params[option.param]
    return Settings.build(sections)


def _refused_parameters() -> list[inspect.Parameter]:
    """Hidden parameters for `REFUSED_FLAGS`, so that giving one is refused with its reason."""
    return [
        inspect.Parameter(
            f"refused_{flags[-1].removeprefix('--').replace('-', '_')}",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[Optional[str], typer.Option(*flags, hidden=True)],  # noqa: UP045 (typer reads typing.Optional)
        )
        for flags in REFUSED_FLAGS
    ]


def _refuse(values: dict[str, Any]) -> None:
    for flags, reason in REFUSED_FLAGS.items():
        if values.pop(f"refused_{flags[-1].removeprefix('--').replace('-', '_')}") is not None:
            raise RayevalError(f"{'/'.join(flags)} is not an option of rayeval: {reason}")


def with_options(*phases: Phase) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command every option of `phases`: the decorated function keeps its own parameters
    (arguments such as model inputs) and receives the rest as `settings: Settings`. Commands that
    generate also take the `REFUSED_FLAGS`, to refuse them with their reason."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "settings"]
        options = options_for(phases)
        refused = _refused_parameters() if "generate" in phases else []

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            kept = {p.name: values.pop(p.name) for p in own}
            if refused:
                _refuse(values)
            return command(**kept, settings=settings_from(values, options))

        parameters = own + [option.parameter for option in options] + refused
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


# -- README tables ------------------------------------------------------------------------------


def _default_cell(option: CliOption) -> str:
    if option.default is None:  # the description says what "unset" means
        return ""
    if option.is_flag:
        return "on" if option.default else "off"
    return f"`{option.default}`"


def option_table(phase: Phase) -> str:
    """The Markdown table of the options of `phase` (what the README shows)."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for option in options_for([phase]):
        names = ", ".join(f"`{name}`" for name in option.declarations())
        meaning = option.help().replace("|", "\\|")
        if option.path in ENVVARS:
            meaning += f" Env: `{ENVVARS[option.path]}`."
        rows.append(f"| {names} | {_default_cell(option)} | {meaning} |")
    return "\n".join(rows)


TABLE_BLOCK = re.compile(r"(<!-- options: (\w+) -->\n)(.*?)(<!-- /options -->)", re.DOTALL)


def rewrite_tables(text: str) -> str:
    """`text` with every `<!-- options: PHASE -->` ... `<!-- /options -->` block regenerated."""
    return TABLE_BLOCK.sub(lambda m: f"{m.group(1)}{option_table(m.group(2))}\n{m.group(4)}", text)  # type: ignore[arg-type]


if __name__ == "__main__":
    for name in sys.argv[1:]:
        readme = Path(name)
        readme.write_text(rewrite_tables(readme.read_text(encoding="utf-8")), encoding="utf-8")
