"""Model input resolution: turn what the user typed into ordered `ModelSpec`s.

Everything downstream works with `ModelSpec` only; nothing else parses paths or guesses ids.
The rules are those of the scripts rayeval replaces:

- ``builtin:smollm2``: the embedded SmolLM2-135M-Instruct (built once into the cache);
- a local folder with ``checkpoint-*`` / ``step-*`` subfolders: every checkpoint, in numeric step
  order, as ``<folder>_<checkpoint-N>``, then the folder itself when it holds a model;
- a local model folder (has ``config.json``): one model, id = folder name;
- a local folder of model folders: each of them;
- ``org/name`` that is not a local path: a Hugging Face repo id, id = ``name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rayeval.errors import RayevalError

BUILTIN_PREFIX = "builtin:"
_CHECKPOINT_RE = re.compile(r"^(?:checkpoint|step)[-_](\d+)$")
_HF_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate.

    `path` is what vLLM loads (a local folder or a hub repo id); `run` and `step` say where the
    model sits in a training run, so reports can plot scores over steps.
    """

    id: str
    path: str
    run: str | None = None
    step: int | None = None


def sanitize_id(raw: str) -> str:
    """Make `raw` safe as one path component: no separators, no `..`, no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", raw.strip())
    cleaned = cleaned.replace("..", "_")
    cleaned = cleaned.lstrip(".")
    if not cleaned:
        raise RayevalError(f"model id {raw!r} is empty after sanitising; rename the model folder")
    return cleaned


def _holds_model(folder: Path) -> bool:
    """A folder holds a model when it has a config.json or weight files."""
    if (folder / "config.json").is_file():
        return True
    return any(p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES) for p in folder.iterdir())


def _checkpoint_dirs(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for child in folder.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found, key=lambda pair: (pair[0], pair[1].name))


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _resolve_local(folder: Path) -> list[ModelSpec]:
    folder = folder.resolve()
    run = folder.name
    checkpoints = _checkpoint_dirs(folder)
    if checkpoints:
        specs = [
            ModelSpec(id=f"{run}_{ckpt.name}", path=str(ckpt), run=run, step=step)
            for step, ckpt in checkpoints
        ]
        if _holds_model(folder):
            specs.append(ModelSpec(id=run, path=str(folder), run=run, step=None))
        return specs
    if (folder / "config.json").is_file():
        return [ModelSpec(id=run, path=str(folder))]
    children = sorted(
        (c for c in folder.iterdir() if c.is_dir() and (c / "config.json").is_file()),
        key=lambda c: _natural_key(c.name),
    )
    if children:
        return [ModelSpec(id=c.name, path=str(c)) for c in children]
    raise RayevalError(
        f"{folder} is neither a model folder (no config.json), nor a folder of checkpoint-*/step-* "
        "subfolders, nor a folder of model folders; point rayeval at one of those"
    )


def _resolve_one(model_input: str, cache_dir: Path | None) -> list[ModelSpec]:
    if model_input.startswith(BUILTIN_PREFIX):
        from rayeval.builtin_models import builtin_model_spec

        return [builtin_model_spec(model_input[len(BUILTIN_PREFIX):], cache_dir)]
    path = Path(model_input).expanduser()
    if path.is_dir():
        return _resolve_local(path)
    if path.exists():
        raise RayevalError(f"{model_input} is a file, not a model folder; pass the folder that holds config.json")
    if _HF_REPO_RE.match(model_input) and not model_input.startswith((".", "/", "~")):
        return [ModelSpec(id=model_input.split("/")[1], path=model_input)]
    raise RayevalError(
        f"model input {model_input!r} is not an existing folder nor a hub repo id 'org/name'; "
        "check the path (or use builtin:smollm2 for the embedded model)"
    )


def resolve_models(model_inputs: list[str], cache_dir: Path | None = None) -> list[ModelSpec]:
    """Resolve every input, in the order given, into unique, sanitised model ids.

    The same model named twice is kept once; two different models that would share an id get
    `-2`, `-3`, ... suffixes so that their result folders never collide.
    """
    if not model_inputs:
        raise RayevalError("no model given; pass a model folder, a checkpoints folder or a hub id 'org/name'")
    specs: list[ModelSpec] = []
    seen_paths: set[str] = set()
    taken_ids: set[str] = set()
    for model_input in model_inputs:
        for spec in _resolve_one(model_input, cache_dir):
            if spec.path in seen_paths:
                continue
            seen_paths.add(spec.path)
            base = sanitize_id(spec.id)
            model_id, n = base, 1
            while model_id in taken_ids:
                n += 1
                model_id = f"{base}-{n}"
            taken_ids.add(model_id)
            specs.append(ModelSpec(id=model_id, path=spec.path, run=spec.run, step=spec.step))
    return specs
