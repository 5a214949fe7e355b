"""Model input resolution: turn what the user typed into ordered `ModelSpec`s.

Everything downstream works with `ModelSpec` only; nothing else parses paths or guesses ids.
The rules are those of the scripts rayeval replaces, widened to the usual trainers' folder names:

- ``builtin:smollm2``: the embedded SmolLM2-135M-Instruct (built once into the cache);
- ``openai:NAME@URL``: model NAME already served behind the OpenAI-compatible API at URL
  (`api_model`), id = NAME's last path component; nothing is loaded, the API engine sends requests;
- a local *run folder*, i.e. one with at least one numbered checkpoint subfolder that holds a
  model (see `parse_checkpoint_name`: ``checkpoint-N``, ``step_N``, ``global_stepN``,
  ``iter_0001000``, ``epoch-N``, ...): every subfolder that holds a model, as
  ``<run>_<subfolder>``. Order: numbered step checkpoints by step, then numbered epoch
  checkpoints by epoch (steps and epochs are different units, so each series stays monotone and
  steps come first), then the unnumbered subfolders (``final/``, ``best/``) in natural name
  order, then the run folder itself, id ``<run>``, when it holds a model;
- a local model folder (has ``config.json``): one model, id = folder name;
- a local folder of model folders: each of them (those with a ``config.json``), in natural order;
- ``org/name`` that is not a local path: a Hugging Face repo id, id = ``name``.

A folder *holds a model* when it has a ``config.json`` or weight files at its top level. A
checkpoint still being written (``config.json``, no weights yet) therefore counts: the engine
fails it and the run goes on. Trainer state files (``optimizer.pt``, ``training_args.bin``,
DeepSpeed ``*_optim_states.pt`` / ``*_model_states.pt``, ...) are not weights.

Candidates that are left out are recorded with the reason (`Discovery.skipped`), so a dry run
can list them: subfolders that hold no model, hidden folders, unreadable folders, and files
named like a checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from rayeval.errors import RayevalError
from rayeval.options import option_ref

BUILTIN_PREFIX = "builtin:"
API_PREFIX = "openai:"
"""`openai:NAME@URL`: model NAME served behind the OpenAI-compatible API at URL (…/v1)."""
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
"""Where the key of an `openai:` model comes from unless `--api-key-env` names another variable
(the variable OpenAI's own clients read)."""
StepUnit = Literal["step", "epoch"]
# Numbered checkpoint folder names; the separator is optional for every prefix (`stepN`,
# `global_step_N`, `iter_0001000`, ...). Matched case-insensitively, anchored at both ends.
_CHECKPOINT_RE = re.compile(r"^(?P<kind>checkpoint|global_step|step|iter|epoch)[-_]?(?P<number>\d+)$", re.IGNORECASE)
_UNIT_ORDER: dict[StepUnit, int] = {"step": 0, "epoch": 1}
_HF_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
# Files a trainer writes next to the weights that are not weights (Hugging Face Trainer,
# DeepSpeed): a folder holding only these holds no model.
_TRAINER_STATE_RE = re.compile(
    r"^(?:training_args\.bin|optimizer\.(?:pt|bin)|scheduler\.pt|scaler\.pt|rng_state.*\.pth|.*_optim_states\.pt|.*_model_states\.pt)$"
)

NO_MODEL = "no config.json or weights"
NO_CONFIG = "no config.json"
NOT_A_FOLDER = "not a folder"
HIDDEN = "hidden folder"


@dataclass(frozen=True)
class ApiEndpoint:
    """A model that is already served behind an OpenAI-compatible API.

    `api_key` is resolved on the driver (from an option, a config file's `${VAR}` or the variable
    named by `api_key_env`) and travels to the Ray worker that makes the requests as a
    `SecretStr`, so it works on a remote cluster whose workers lack the driver's environment; it
    never appears in a repr, an error message or run.json (`manifest`).
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False, compare=False)

    def manifest(self) -> dict[str, str | None]:
        """What run.json records: where and what, never the key."""
        return {"base_url": self.base_url, "model": self.model, "api_key_env": self.api_key_env}


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate.

    `path` is what vLLM loads (a local folder or a hub repo id); `run` and `step` say where the
    model sits in a training run, so reports can plot scores over steps. `step_unit` says what
    `step` counts: "step" (optimizer steps or iterations) or "epoch"; None when `step` is None.
    `api` is set for a model served behind an API (then `path` is only its identity, e.g. for
    engine affinity, and nothing is loaded).
    """

    id: str
    path: str
    run: str | None = None
    step: int | None = None
    step_unit: StepUnit | None = None
    api: ApiEndpoint | None = None

    def manifest(self) -> dict[str, object]:
        """The model as run.json records it."""
        entry: dict[str, object] = {"id": self.id, "path": self.path, "run": self.run, "step": self.step, "step_unit": self.step_unit}
        if self.api is not None:
            entry["api"] = self.api.manifest()
        return entry


@dataclass(frozen=True)
class Discovery:
    """The models found, in evaluation order, and the candidates left out, each with why."""

    models: list[ModelSpec] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def sanitize_id(raw: str) -> str:
    """Make `raw` safe as one path component: no separators, no `..`, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", raw.strip())
    cleaned = cleaned.replace("..", "_")
    cleaned = cleaned.lstrip(".")
    if not cleaned:
        raise RayevalError(f"model id {raw!r} is empty after sanitising; rename the model folder")
    return cleaned


def parse_checkpoint_name(name: str) -> tuple[int, StepUnit] | None:
    """The step (and its unit) a checkpoint folder name encodes, or None if it is not numbered.

    Case-insensitive; ``checkpoint``, ``step``, ``global_step`` and ``iter`` count steps,
    ``epoch`` counts epochs; the separator before the number is ``-``, ``_`` or nothing, and
    leading zeros are dropped (Megatron's ``iter_0001000`` is step 1000).
    """
    match = _CHECKPOINT_RE.match(name)
    if match is None:
        return None
    unit: StepUnit = "epoch" if match.group("kind").lower() == "epoch" else "step"
    return int(match.group("number")), unit


def is_weight_name(name: str) -> bool:
    """Whether a file of this name holds model weights (trainer state files do not)."""
    return name.endswith(_WEIGHT_SUFFIXES) and not _TRAINER_STATE_RE.match(name)


def is_weight_file(path: Path) -> bool:
    """A weight file that exists (the watcher and the model discovery judge folders by these)."""
    return is_weight_name(path.name) and path.is_file()


def _holds_model(folder: Path) -> bool:
    """A folder holds a model when it has a config.json or weight files."""
    if (folder / "config.json").is_file():
        return True
    return any(is_weight_file(p) for p in folder.iterdir())


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _why_not_a_model(child: Path, need_config: bool = False) -> str | None:
    """None when `child` holds a model (with `need_config`: has a config.json), else the reason."""
    if not child.is_dir():
        return NOT_A_FOLDER
    if child.name.startswith("."):
        return HIDDEN
    try:
        if need_config:
            return None if (child / "config.json").is_file() else NO_CONFIG
        return None if _holds_model(child) else NO_MODEL
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda c: _natural_key(c.name))
    except OSError as exc:
        raise RayevalError(f"cannot list {folder}: {exc.strerror or exc}; check the path and its permissions") from exc


def discover(folder: Path) -> Discovery:
    """The models in a local folder, in evaluation order, and the candidates skipped (see the
    module docstring for the rules). Raises RayevalError when the folder holds no model at all."""
    folder = folder.resolve()
    run = folder.name
    children = _children(folder)
    numbered = [(parsed, child) for child in children if (parsed := parse_checkpoint_name(child.name)) is not None]
    numbered_reasons = {child: _why_not_a_model(child) for _, child in numbered}
    numbered_skips = [(child, reason) for child, reason in numbered_reasons.items() if reason is not None]

    if any(reason is None for reason in numbered_reasons.values()):
        checkpoints = sorted(
            ((step, unit, child) for (step, unit), child in numbered if numbered_reasons[child] is None),
            key=lambda item: (_UNIT_ORDER[item[1]], item[0], _natural_key(item[2].name)),
        )
        models = [ModelSpec(id=f"{run}_{c.name}", path=str(c), run=run, step=step, step_unit=unit) for step, unit, c in checkpoints]
        skipped: list[tuple[Path, str]] = []
        for child in children:
            if child in numbered_reasons:
                continue
            if not child.is_dir():
                continue  # the run folder's own files: config, weights, logs
            reason = _why_not_a_model(child)
            if reason is None:
                models.append(ModelSpec(id=f"{run}_{child.name}", path=str(child), run=run))
            else:
                skipped.append((child, reason))
        if _holds_model(folder):
            models.append(ModelSpec(id=run, path=str(folder), run=run))
        return Discovery(models=models, skipped=sorted(numbered_skips + skipped, key=lambda s: _natural_key(s[0].name)))

    if (folder / "config.json").is_file():
        return Discovery(models=[ModelSpec(id=run, path=str(folder))], skipped=numbered_skips)

    models = []
    skipped = []
    for child in children:
        if not child.is_dir() and child not in numbered_reasons:
            continue
        reason = _why_not_a_model(child, need_config=True)
        if reason is None:
            models.append(ModelSpec(id=child.name, path=str(child)))
        else:
            skipped.append((child, reason))
    if models:
        return Discovery(models=models, skipped=skipped)
    detail = "".join(f"; {child.name}: {reason}" for child, reason in numbered_skips)
    raise RayevalError(
        f"{folder} is neither a model folder (no config.json), nor a folder of checkpoint subfolders "
        f"(checkpoint-N, step-N, global_stepN, iter_N, epoch-N, ... holding a config.json or weights), "
        f"nor a folder of model folders; point rayeval at one of those{detail}"
    )


_API_INPUT_RE = re.compile(r"(?P<name>[^@]+(?:@[^@]+)*?)@(?P<url>https?://.*)\Z")
"""NAME@URL split at the first `@` followed by http(s)://, so a URL's own `user:key@host` stays in
the URL (and is refused there) instead of leaking into NAME."""


def api_model(model_input: str, api_key_env: str = DEFAULT_API_KEY_ENV) -> ModelSpec:
    """The model of an `openai:NAME@URL` input, with its key from `api_key_env` when that is set.

    The id is NAME's last path component (`openai:org/name@URL` is `name`); `path` is the whole
    input, which identifies the model in shard ids and engine affinity.
    """
    from urllib.parse import urlsplit

    body = model_input[len(API_PREFIX) :]
    found = _API_INPUT_RE.match(body)
    if found is None:
        raise RayevalError(
            f"model input {model_input!r} is not of the form openai:NAME@URL (URL with http:// or https://); "
            "e.g. openai:gpt-4o-mini@https://api.openai.com/v1"
        )
    name, url = found.group("name"), found.group("url")
    parts = urlsplit(url)
    if "@" in parts.netloc:  # user:key@host: never echoed, since the input holds a secret
        raise RayevalError(
            f"model input openai:{name}@{parts.scheme}://…@{parts.netloc.rpartition('@')[2]}{parts.path} has credentials in its URL; "
            f"remove them and put the key in the variable {option_ref('api.key_env')} names (now {api_key_env})"
        )
    key = os.environ.get(api_key_env)
    endpoint = ApiEndpoint(base_url=url, model=name, api_key_env=api_key_env, api_key=SecretStr(key) if key else None)
    return ModelSpec(id=name.rstrip("/").split("/")[-1], path=f"{API_PREFIX}{name}@{url}", api=endpoint)


def _resolve_one(model_input: str | ModelSpec, cache_dir: Path | None, api_key_env: str) -> Discovery:
    if isinstance(model_input, ModelSpec):  # already resolved (a run file's entries): only made unique
        return Discovery(models=[model_input])
    if model_input.startswith(API_PREFIX):
        return Discovery(models=[api_model(model_input, api_key_env)])
    if model_input.startswith(BUILTIN_PREFIX):
        from rayeval.builtin_models import builtin_model_id, builtin_model_path

        name = model_input[len(BUILTIN_PREFIX) :]
        return Discovery(models=[ModelSpec(id=builtin_model_id(name), path=str(builtin_model_path(name, cache_dir)))])
    path = Path(model_input).expanduser()
    if path.is_dir():
        return discover(path)
    if path.exists():
        raise RayevalError(f"{model_input} is a file, not a model folder; pass the folder that holds config.json")
    if _HF_REPO_RE.match(model_input) and not model_input.startswith((".", "/", "~")):
        return Discovery(models=[ModelSpec(id=model_input.split("/")[1], path=model_input)])
    raise RayevalError(
        f"model input {model_input!r} is not an existing folder nor a hub repo id 'org/name'; "
        "check the path (or use builtin:smollm2 for the embedded model)"
    )


def resolve_models_with_skips(
    model_inputs: Sequence[str | ModelSpec], cache_dir: Path | None = None, api_key_env: str = DEFAULT_API_KEY_ENV
) -> Discovery:
    """`resolve_models`, plus every candidate folder left out and why (for `--dry-run`).
    `api_key_env` names the variable holding the key of `openai:NAME@URL` models."""
    if not model_inputs:
        raise RayevalError("no model given; pass a model folder, a checkpoints folder or a hub id 'org/name'")
    specs: list[ModelSpec] = []
    skipped: dict[tuple[Path, str], None] = {}
    seen_paths: set[str] = set()
    taken_ids: set[str] = set()
    for model_input in model_inputs:
        found = _resolve_one(model_input, cache_dir, api_key_env)
        skipped.update(dict.fromkeys(found.skipped))
        for spec in found.models:
            if spec.path in seen_paths:
                continue
            seen_paths.add(spec.path)
            base = sanitize_id(spec.id)
            model_id, n = base, 1
            while model_id in taken_ids:
                n += 1
                model_id = f"{base}-{n}"
            taken_ids.add(model_id)
            specs.append(dataclasses.replace(spec, id=model_id))
    return Discovery(models=specs, skipped=list(skipped))


def resolve_models(model_inputs: list[str], cache_dir: Path | None = None) -> list[ModelSpec]:
    """Resolve every input, in the order given, into unique, sanitised model ids.

    The same model named twice is kept once; two different models that would share an id get
    `-2`, `-3`, ... suffixes so that their result folders never collide.
    """
    return resolve_models_with_skips(model_inputs, cache_dir).models
