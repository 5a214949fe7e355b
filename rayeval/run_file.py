"""Run files: `rayeval run RUN.yaml --phase generate|evaluate|all`.

The tool rayeval replaces evaluates models listed in a YAML file; its users have such files, so
rayeval reads them as written, and widens them to local and hub checkpoints in the same list:

```yaml
models:
  - id: my-model                      # a model already served (OpenAI-compatible API)
    api_name: my-model
    api_base: http://localhost:8001/v1
    api_key: ${MY_KEY}
  - path: /ckpts/run                  # a local model, run folder or builtin:smollm2
    tp_size: 2
  - hf_id: HuggingFaceTB/SmolLM2-135M-Instruct
judge: {api_base: https://openrouter.ai/api/v1, api_key: ${OPENROUTER_KEY}, model_name: x/y}
benchmarks: {ifeval: true, truthfulqa: true, livebench: {tasks: [math]}}
run: {limit: 10}                      # sections named after the option models: run, engine, sampling
```

The file is one typed model (`RunFile`) whose sections *are* the option models (`RunOptions`,
`EngineConfig`, `SamplingConfig`, `JudgeConfig`, each benchmark's), so no option is declared
twice. `${VAR}` (or `${VAR:-fallback}`) is replaced from the environment before validation. Every
problem is one line naming the key path (`models[1].api_base: field required`). A key written in
the file is accepted, with a warning to use `${VAR}`; it stays a `SecretStr` and is never shown.

One sweep runs every model on engines of one size with one sampling setup: a model's `tp_size`
or `sampling` must agree with the other models' (and the file's `engine`/`sampling` sections);
they then become the run's. The command line wins over all of it (`rayeval.cli_options.settings_over`).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from rayeval.config import EngineConfig, SamplingConfig
from rayeval.errors import RayevalError
from rayeval.files import read_yaml
from rayeval.models import API_PREFIX, Discovery, ModelSpec, api_model, resolve_models_with_skips
from rayeval.options import OptionsModel, field_phases
from rayeval.options import Phase as OptionPhase

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


RUN_PHASES: tuple[OptionPhase, ...] = ("generate", "evaluate")
"""`rayeval run` takes the options of these phases, as `rayeval sweep` does (without --watch)."""


class Phase(str, enum.Enum):
    """What `rayeval run` does: generate only, score existing outputs only, or the whole sweep."""

    generate = "generate"
    evaluate = "evaluate"
    all = "all"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built when a run file is read, not for --help


class _Entry(_Strict):
    id: str | None = None
    """The results folder name [default: api_name for a served model; the folder or hub name otherwise]."""
    sampling: SamplingConfig | None = None
    """Decoding settings; they must equal the other models' (one sweep, one sampling setup)."""


class ApiModelEntry(_Entry):
    """A model already served behind an OpenAI-compatible API (the replaced tool's entries)."""

    api_base: str
    api_name: str | None = None
    """The model name the server knows [default: id]."""
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    """The environment variable holding the key (read on the driver, never written)."""

    @model_validator(mode="after")
    def _named(self) -> ApiModelEntry:
        if self.api_name is None and self.id is None:
            raise ValueError("give api_name (the model name the server knows) or id")
        return self


class LocalModelEntry(_Entry):
    """A model rayeval loads into its engines: a local folder (or run folder) or a hub id."""

    path: str | None = None
    hf_id: str | None = None
    tp_size: int | None = None
    """Tensor-parallel size; must equal the other models' (one sweep, engines of one size)."""

    @field_validator("tp_size")
    @classmethod
    def _engine_rule(cls, value: int | None) -> int | None:
        # The engine option's own limits (`EngineConfig.tp_size`), not a copy of them.
        if value is not None:
            try:
                EngineConfig(tp_size=value)
            except ValidationError as exc:
                raise ValueError(exc.errors()[0]["msg"]) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> LocalModelEntry:
        if (self.path is None) == (self.hf_id is None):
            raise ValueError("give one of api_base (a served model), path (a local folder) or hf_id (a hub model)")
        return self


def _entry_kind(value: Any) -> str:
    """Any `api_*` key makes an entry a served model (so a missing api_base is reported as such)."""
    return "api" if isinstance(value, Mapping) and any(str(key).startswith("api_") for key in value) else "local"


def _selection_kind(value: Any) -> str:
    return "options" if isinstance(value, Mapping) else "flag"


ModelEntry = Annotated[Union[Annotated[ApiModelEntry, Tag("api")], Annotated[LocalModelEntry, Tag("local")]], Discriminator(_entry_kind)]  # noqa: UP007


def option_sections_of_run() -> dict[str, type[OptionsModel]]:
    """The core option sections a run file may set: those with options of `rayeval run`'s phases
    (run, engine, sampling, api, judge; not `sweep`'s --watch)."""
    from rayeval.settings import CORE_SECTIONS

    return {
        name: model
        for name, model in CORE_SECTIONS.items()
        if any(set(RUN_PHASES) & set(field_phases(info)) for info in model.model_fields.values())
    }


@functools.cache
def run_file_model() -> type[BaseModel]:
    """The `RunFile` model: built once, because its `benchmarks` section has one field per
    registered benchmark (`true`/`false`, or a mapping of that benchmark's options)."""
    from rayeval.settings import benchmark_sections

    selection = create_model(  # type: ignore[call-overload]
        "BenchmarkSelection",
        __base__=_Strict,
        **{
            name: (
                Annotated[Annotated[bool | None, Tag("flag")] | Annotated[model, Tag("options")], Discriminator(_selection_kind)],
                None,
            )  # noqa: UP007
            for name, model in benchmark_sections().items()
        },
    )

    sections = {name: (model | None, None) for name, model in option_sections_of_run().items()}

    class RunFile(create_model("RunFileSections", __base__=_Strict, **sections)):  # type: ignore[misc]
        models: list[ModelEntry] = Field(min_length=1)
        benchmarks: selection | None = None  # type: ignore[valid-type]

        @model_validator(mode="before")
        @classmethod
        def _old_judge_names(cls, data: Any) -> Any:
            # The replaced tool calls the judge's model `model_name`.
            judge = data.get("judge") if isinstance(data, dict) else None
            if isinstance(judge, dict) and "model_name" in judge:
                if "model" in judge:
                    raise ValueError("judge: give model or model_name, not both")
                judge = {("model" if key == "model_name" else key): value for key, value in judge.items()}
                data = {**data, "judge": judge}
            return data

        @field_validator("benchmarks", mode="before")
        @classmethod
        def _benchmark_list(cls, value: Any) -> Any:
            # `benchmarks: [ifeval, truthfulqa]` is the same as `{ifeval: true, truthfulqa: true}`.
            return dict.fromkeys(value, True) if isinstance(value, list) else value

        @model_validator(mode="after")
        def _benchmarks_at_top(self) -> RunFile:
            if self.run is not None and "benchmarks" in self.run.model_fields_set:
                raise ValueError("run.benchmarks: list benchmarks in the top-level benchmarks section")
            return self

    return RunFile


# -- ${VAR} substitution -------------------------------------------------------------------------


def key_path(loc: tuple[Any, ...]) -> str:
    """`("models", 1, "api_base")` → `models[1].api_base`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def substitute(value: Any, environ: Mapping[str, str], loc: tuple[Any, ...] = ()) -> Any:
    """`value` with every `${VAR}` / `${VAR:-fallback}` in its strings replaced from `environ`;
    a variable that is not set (and has no fallback) is one line naming the key and the variable."""
    if isinstance(value, dict):
        return {key: substitute(item, environ, (*loc, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, environ, (*loc, i)) for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if fallback is not None:
            return fallback
        raise RayevalError(f"{key_path(loc)}: ${{{name}}} is not set; export {name} (or write ${{{name}:-fallback}})")

    return _VARIABLE.sub(replace, value)


# -- validation errors as one line ---------------------------------------------------------------


def _model_fields(annotation: Any) -> dict[str, Any]:
    """Field annotations of the models `annotation` may hold (through Optional, unions, lists)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _model_fields(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        found: dict[str, Any] = {}
        for arg in typing.get_args(annotation):
            found.update(_model_fields(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: info.annotation for name, info in annotation.model_fields.items()}
    return {}


def _clean_loc(root: type[BaseModel], loc: tuple[Any, ...], unknown_last: bool) -> tuple[tuple[Any, ...], list[str]]:
    """`loc` without pydantic's union labels (`BenchmarkSelection`, tags), and the keys the
    mapping holding the last part accepts (for "did you mean"). `unknown_last`: the last part is a
    key the file gave that the mapping does not know (keep it)."""
    fields = _model_fields(root)
    known = list(fields)
    kept: list[Any] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            kept.append(part)
        elif part in fields:
            kept.append(part)
            known = list(fields)
            fields = _model_fields(fields[part])
        elif unknown_last and i == len(loc) - 1:
            kept.append(part)
            known = list(fields)
    return tuple(kept), known


def one_line(exc: ValidationError, root: type[BaseModel]) -> str:
    """The first problem of `exc` as `key.path: message` (never the offending value: it may be a
    key); an unknown key comes first, since a typo also explains a missing field."""
    problem = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc, known = _clean_loc(root, tuple(problem["loc"]), problem["type"] == "extra_forbidden")
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        message = f"unknown key; did you mean {close[0]}?" if close else f"unknown key; known keys: {', '.join(known)}"
    elif problem["type"] == "model_type":
        message = "must be a mapping of keys to values"
    message = message[:1].lower() + message[1:]
    return f"{key_path(loc)}: {message}" if loc else message


# -- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFileContents:
    """A validated run file: its models, the option values it sets (section → field → value,
    only what the file says), and warnings to show."""

    path: Path
    entries: list[ApiModelEntry | LocalModelEntry]
    sections: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def _literal_key_warnings(document: dict[str, Any]) -> list[str]:
    """A warning per key written in the file itself (not `${VAR}`); never the key."""
    places: list[tuple[tuple[Any, ...], Any]] = [(("judge", "api_key"), document.get("judge"))]
    places += [(("models", i, "api_key"), entry) for i, entry in enumerate(document.get("models") or [])]
    warnings = []
    for loc, holder in places:
        value = holder.get("api_key") if isinstance(holder, dict) else None
        if isinstance(value, str) and value and not _VARIABLE.search(value):
            warnings.append(
                f"{key_path(loc)} is written in the file: keys in files leak through copies and commits; "
                f"write api_key: ${{SOME_VAR}} and export SOME_VAR instead"
            )
    return warnings


def _agreed(entries: list[ApiModelEntry | LocalModelEntry], base: Mapping[str, Any], section: str, pick: Any) -> dict[str, Any]:
    """The values the entries set for `section` (via `pick`), checked to agree with each other and
    with the file's own `section`: one sweep has one engine size and one sampling setup."""
    agreed = dict(base)
    source = dict.fromkeys(base, section)
    for i, entry in enumerate(entries):
        for name, value in pick(entry).items():
            where = f"models[{i}].{name}" if section == "engine" else f"models[{i}].sampling.{name}"
            if name in agreed and agreed[name] != value:
                raise RayevalError(
                    f"{where}: {value} differs from {agreed[name]} ({source[name]}); one run uses one {section} setup for all models: "
                    f"make them equal, or evaluate this model in a run file of its own"
                )
            agreed[name] = value
            source[name] = where
    return agreed


def _sections(contents: BaseModel, document: dict[str, Any], entries: list[Any]) -> dict[str, dict[str, Any]]:
    """The option values the file sets, section by section (what the command line may override)."""
    sections: dict[str, dict[str, Any]] = {}
    for name in option_sections_of_run():
        if getattr(contents, name) is not None:
            sections[name] = dict(document[name])
    if "judge" in sections and "model_name" in sections["judge"]:
        sections["judge"]["model"] = sections["judge"].pop("model_name")
    selection = contents.benchmarks  # type: ignore[attr-defined]
    if selection is not None:
        chosen = [name for name, value in selection if value not in (None, False)]
        if not chosen:
            raise RayevalError("benchmarks: every benchmark is off; turn one on (e.g. ifeval: true)")
        sections.setdefault("run", {})["benchmarks"] = chosen
        for name in chosen:
            if isinstance(getattr(selection, name), BaseModel):  # given as a mapping of its options
                sections[name] = dict(document["benchmarks"][name])
    tp = _agreed(entries, {k: v for k, v in sections.get("engine", {}).items() if k == "tp_size"}, "engine", _entry_tp)
    sections.setdefault("engine", {}).update(tp)
    sampling = _agreed(entries, sections.get("sampling", {}), "sampling", _entry_sampling)
    if sampling:
        sections["sampling"] = sampling
    return {name: values for name, values in sections.items() if values}


def _entry_tp(entry: Any) -> dict[str, Any]:
    tp = getattr(entry, "tp_size", None)
    return {} if tp is None else {"tp_size": tp}


def _entry_sampling(entry: Any) -> dict[str, Any]:
    sampling = entry.sampling
    return {} if sampling is None else sampling.model_dump(include=sampling.model_fields_set)


def load_run_file(path: Path, environ: Mapping[str, str] | None = None) -> RunFileContents:
    """Read, substitute and validate a run file; any problem is one `RayevalError` line."""
    document = read_yaml(path, "run file", "check the path")
    if not isinstance(document, dict):
        raise RayevalError(f"run file {path} must be a mapping with a models: list (see configs/run-api-models.yaml)")
    warnings = [f"{path}: {warning}" for warning in _literal_key_warnings(document)]
    try:
        document = substitute(document, os.environ if environ is None else environ)
        root = run_file_model()
        try:
            contents = root.model_validate(document)
        except ValidationError as exc:
            raise RayevalError(one_line(exc, root)) from None
        entries = list(contents.models)  # type: ignore[attr-defined]
        sections = _sections(contents, document, entries)
    except RayevalError as exc:
        raise RayevalError(f"{path}: {exc}") from None
    return RunFileContents(path=path, entries=entries, sections=sections, warnings=warnings)


# -- models --------------------------------------------------------------------------------------


def _api_spec(entry: ApiModelEntry, loc: str, key_env: str) -> ModelSpec:
    """The entry as `openai:NAME@URL` would give it (`rayeval.models.api_model`), with the entry's
    own id and key. The key: `api_key`, else the variable `api_key_env`, else the run's
    `api.key_env` (OPENAI_API_KEY) when it is set; none for a local server."""
    name = entry.api_name or entry.id or ""
    try:
        spec = api_model(f"{API_PREFIX}{name}@{entry.api_base}", entry.api_key_env or key_env)
    except RayevalError as exc:
        raise RayevalError(f"{loc}.api_base: {exc}") from None
    assert spec.api is not None
    endpoint = spec.api
    if entry.api_key is not None:
        endpoint = dataclasses.replace(endpoint, api_key=entry.api_key, api_key_env=None)
    elif entry.api_key_env is not None and not os.environ.get(entry.api_key_env):
        raise RayevalError(f"{loc}.api_key_env: {entry.api_key_env} is not set; export it, or drop api_key_env for a server without a key")
    return dataclasses.replace(spec, id=entry.id or spec.id, api=endpoint)


def model_specs(contents: RunFileContents, key_env: str) -> Discovery:
    """The file's models as `ModelSpec`s, in file order, with unique sanitised ids (the same rules
    as model inputs on the command line: `rayeval.models.resolve_models_with_skips`). `key_env`:
    the run's `api.key_env`, where served models without a key of their own find it."""
    specs: list[ModelSpec] = []
    skipped: list[tuple[Path, str]] = []
    for i, entry in enumerate(contents.entries):
        loc = f"{contents.path}: models[{i}]"
        if isinstance(entry, ApiModelEntry):
            specs.append(_api_spec(entry, loc, key_env))
            continue
        try:
            found = resolve_models_with_skips([entry.path or entry.hf_id or ""])
        except RayevalError as exc:
            raise RayevalError(f"{loc}: {exc}") from None
        if entry.id is not None:
            if len(found.models) != 1:
                raise RayevalError(f"{loc}.id: {entry.path} holds {len(found.models)} models; drop id (each is named after its folder)")
            found = Discovery(models=[dataclasses.replace(found.models[0], id=entry.id)], skipped=found.skipped)
        specs.extend(found.models)
        skipped.extend(found.skipped)
    unique = resolve_models_with_skips(specs)
    return Discovery(models=unique.models, skipped=skipped)
