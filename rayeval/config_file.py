"""Option defaults from a YAML file: `rayeval --config run.yaml generate ...`.

A cluster job (a KubeRay RayJob, `ray job submit`) is easier to review, diff and rerun from a
checked-in file than from a long command line. The file only supplies defaults: an option given
on the command line (or through its environment variable) wins. Keys are option names as on the
command line without the leading dashes (`tp-size`, or `tp_size`). Top-level keys apply to every
command that has that option; a section named after a command (`generate:`, `evaluate:`,
`data pull:`) applies to that command only. A key no command knows is an error, never ignored,
so a typo cannot silently fall back to a default. Judge keys are refused: secrets never go in
files. A run file (one with a `models:` list, `rayeval.run_file`) is a different thing, told apart
with a pointer to `rayeval run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from rayeval.errors import RayevalError
from rayeval.files import read_yaml


def _commands(group: Any, prefix: str = "") -> dict[str, tuple[set[str], tuple[str, ...]]]:
    """Every leaf command by its full name (`data pull`): the option names a file may set for it,
    and its path of names in the default_map.

    Commands are told apart by duck typing: typer ships its own copy of click, so `click.Group`
    is not the class of typer's groups.
    """
    found: dict[str, tuple[set[str], tuple[str, ...]]] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            for sub, (options, path) in _commands(command, f"{full} ").items():
                found[sub] = (options, (name, *path))
        else:
            found[full] = (_options(command), (name,))
    return found


def _options(command: Any) -> set[str]:
    """Option names a file may set (arguments such as model inputs stay on the command line)."""
    return {p.name for p in command.params if p.param_type_name == "option" and p.name and not getattr(p, "hidden", False)}


def _value(value: Any) -> Any:
    """YAML lists become the comma-separated strings the options take (`benchmarks: [a, b]`)."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def _key(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise RayevalError(f"{where}: option names must be strings, got {raw!r}")
    from rayeval.cli_options import secret_params

    name = raw.lstrip("-").replace("-", "_")
    if name in secret_params():
        raise RayevalError(
            f"{where}: `{raw}` is a secret and does not belong in a file; set it in the environment instead (see `rayeval --help` of the command)"
        )
    return name


def _checked(where: str, raw: str, name: str, value: Any) -> Any:
    """`value` if the option `name` takes it; otherwise a one-line error that names the file and
    the key (click's own message would name only the flag, as if it had been typed). Only the
    field's own type and bounds are checked here; rules across options are checked with the
    command's other values."""
    from pydantic import TypeAdapter, ValidationError

    from rayeval.cli_options import all_options

    for option in all_options():
        if option.param == name:
            try:
                field_type: Any = Annotated[option.info.annotation, option.info]  # the field alone, with its bounds
                TypeAdapter(field_type).validate_python(value)
            except ValidationError as exc:
                problem = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
                raise RayevalError(f"{where}: `{raw}: {value}`: {problem}; fix the value in the file") from None
    return value


def load_default_map(path: Path, root: Any) -> dict[str, Any]:
    """Read `path` into a click default_map for `root`'s commands; a clear error on any bad key."""
    document = read_yaml(path, "config file", "check the --config path")
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise RayevalError(f"config file {path} must be a mapping of option names to values")
    if "models" in document:
        raise RayevalError(f"{path} is a run file (it lists models:), not option defaults; run it with `rayeval run {path}`")

    commands = _commands(root)
    shared: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for raw, value in document.items():
        if raw in commands:
            if not isinstance(value, dict):
                raise RayevalError(f"{path}: section `{raw}` must be a mapping of option names to values")
            known = commands[raw][0]
            for sub_raw, sub_value in value.items():
                name = _key(sub_raw, f"{path} [{raw}]")
                if name not in known:
                    raise RayevalError(f"{path}: `{sub_raw}` is not an option of `rayeval {raw}`; see `rayeval {raw} --help`")
                sections.setdefault(raw, {})[name] = _checked(f"{path} [{raw}]", sub_raw, name, _value(sub_value))
            continue
        name = _key(raw, str(path))
        if not any(name in options for options, _ in commands.values()):
            raise RayevalError(f"{path}: `{raw}` is neither an option nor a command section ({', '.join(sorted(commands))})")
        shared[name] = _checked(str(path), raw, name, _value(value))

    default_map: dict[str, Any] = {}
    for full, (known, names) in commands.items():
        defaults = {k: v for k, v in shared.items() if k in known} | sections.get(full, {})
        if not defaults:
            continue
        node = default_map
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = defaults
    return default_map
