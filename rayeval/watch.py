"""When a checkpoint that training is still writing is complete, and when watching ends.

`rayeval sweep --watch` follows run folders while a training job adds checkpoints to them. A
checkpoint taken too early fails to load (or, worse, loads half its shards), so a folder is
only taken when it is *ready*:

- with a marker file named (`--watch-marker COMPLETE`): as soon as that file exists in it (the
  trainer says it is done; nothing else is checked, so a broken one is reported as broken);
- otherwise when it has a ``config.json`` and weights, every shard a ``*.index.json`` lists is
  there, and its files have not changed for the settle time. "Unchanged" is the set of
  (name, size, mtime) of its top-level files plus the folder's own mtime (which moves when a
  file is created, renamed or deleted, so a copy that keeps old mtimes, `rsync -a`, still
  counts as a change). It is settled when that set was seen unchanged for the settle time, or
  when the newest of those mtimes is already that old (so the finished checkpoints of a run are
  taken at once); the second rule trusts the file server's clock to be within a fraction of the
  settle time of this machine's (NTP), a marker file does not.

A folder that is not ready is waited for, never evaluated nor reported as broken. The rules are
plain functions of the folder's files and a clock (injected), so tests need not sleep.
`CheckpointWatcher` applies them to what model discovery (`rayeval.models`) finds in the watched
folders; the sweep (`rayeval.sweep`) runs what it hands over.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayeval.errors import RayevalError
from rayeval.models import NO_MODEL, ModelSpec, is_weight_file, parse_checkpoint_name, resolve_models_with_skips
from rayeval.options import option_ref

Clock = Callable[[], float]
"""Seconds since the epoch, the clock file mtimes are in (`time.time`)."""

_DURATION_RE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>[a-z]+)$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

NO_CHECKPOINT_YET = "no checkpoint yet"
WRITING = "still being written"


# -- when watching ends ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UntilStep:
    """Stop once a checkpoint at this step or later has been evaluated."""

    step: int

    def describe(self) -> str:
        return f"a checkpoint at step {self.step} or later is evaluated"


@dataclass(frozen=True)
class UntilFolder:
    """Stop once the checkpoint folder of this name (`final`) has been evaluated."""

    name: str

    def describe(self) -> str:
        return f"the folder {self.name!r} is evaluated"


@dataclass(frozen=True)
class UntilElapsed:
    """Stop taking checkpoints this long after the sweep started (the ones taken still finish)."""

    seconds: float
    text: str

    def describe(self) -> str:
        return f"{self.text} have passed"


WatchUntil = UntilStep | UntilFolder | UntilElapsed


def parse_watch_until(value: Any) -> Any:
    """Pydantic before-validator: a step number (`5000`), a duration (`30m`, `6h`, `1.5d`, `90s`)
    or a folder name (`final`) becomes its typed value; anything else is a ValueError that says
    which forms are accepted."""
    if value is None or isinstance(value, UntilStep | UntilFolder | UntilElapsed):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a step, a duration or a folder name")
    if isinstance(value, int):
        text = str(value)
    else:
        text = value.strip()
    if re.fullmatch(r"\d+", text):
        return UntilStep(int(text))
    duration = _DURATION_RE.match(text)
    if duration is not None:
        unit = duration.group("unit").lower()
        if unit not in _UNIT_SECONDS:
            raise ValueError(f"{text!r}: unknown unit {unit!r}; give a duration in s, m, h or d (30m, 6h), a step or a folder name")
        seconds = float(duration.group("number")) * _UNIT_SECONDS[unit]
        if seconds <= 0:
            raise ValueError(f"{text!r} is no time at all; give a positive duration such as 30m or 6h")
        return UntilElapsed(seconds, text)
    if not text or text.startswith("-") or "/" in text or "\\" in text or text in (".", ".."):
        raise ValueError(f"{value!r} is not a step (5000), a duration (30m, 6h) or a checkpoint folder name (final)")
    return UntilFolder(text)


def until_met(until: WatchUntil | None, evaluated: Iterable[ModelSpec], elapsed_s: float) -> bool:
    """Whether watching is over, given the models taken and run so far and the time since start."""
    if until is None:
        return False
    if isinstance(until, UntilElapsed):
        return elapsed_s >= until.seconds
    if isinstance(until, UntilStep):
        return any(model.step is not None and model.step >= until.step for model in evaluated)
    return any(Path(model.path).name == until.name for model in evaluated)


# -- when a checkpoint folder is ready --------------------------------------------------------


@dataclass(frozen=True)
class FolderState:
    """What the readiness rules look at in one checkpoint folder."""

    files: frozenset[tuple[str, int, int]]
    """(name, size, mtime_ns) of every top-level file."""
    folder_mtime_ns: int
    has_config: bool
    has_weights: bool
    missing_shards: int
    """Weight shards a ``*.index.json`` lists that are not there (yet)."""
    listed_shards: int

    @property
    def newest_mtime(self) -> float:
        """The last time anything in the folder changed, in seconds."""
        return max([self.folder_mtime_ns] + [mtime for _, _, mtime in self.files]) / 1e9


def read_state(folder: Path) -> FolderState:
    """The folder's `FolderState` (raises OSError when it cannot be read, e.g. while it moves)."""
    files: set[tuple[str, int, int]] = set()
    has_weights = False
    indexes: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file():
                continue
            stat = entry.stat()
            files.add((entry.name, stat.st_size, stat.st_mtime_ns))
            path = Path(entry.path)
            has_weights = has_weights or is_weight_file(path)
            if entry.name.endswith(".index.json"):
                indexes.append(path)
    names = {name for name, _, _ in files}
    listed = {shard for index in indexes for shard in _listed_shards(index)}
    return FolderState(
        files=frozenset(files),
        folder_mtime_ns=folder.stat().st_mtime_ns,
        has_config="config.json" in names,
        has_weights=has_weights,
        missing_shards=len(listed - names),
        listed_shards=len(listed),
    )


def _listed_shards(index: Path) -> set[str]:
    """The weight files a sharded checkpoint's index names (none when it is not readable yet: a
    half-written index is the settle rule's business)."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {str(name) for name in weight_map.values()} if isinstance(weight_map, dict) else set()


def waiting_reason(state: FolderState, stable_since: float, now: float, settle_s: float) -> str | None:
    """None when a folder in `state` (seen unchanged since `stable_since`) is ready at `now`,
    else what it waits for (no marker file named; see the module docstring)."""
    if not state.has_config:
        return "no config.json yet"
    if not state.has_weights:
        return "no weights yet"
    if state.missing_shards:
        return f"{state.missing_shards} of {state.listed_shards} weight shards its index lists are missing"
    newest = state.newest_mtime
    if newest <= now:
        stable_since = min(stable_since, newest)
    if now - stable_since < settle_s:
        return f"{WRITING} (taken once its files are unchanged for {settle_s:g}s)"
    return None


class ReadinessRules:
    """Applies the readiness rules to folders over time: remembers when each folder's files
    were first seen as they are now, which the settle rule needs."""

    def __init__(self, settle_s: float, marker: str | None = None, clock: Clock = time.time) -> None:
        self.settle_s = settle_s
        self.marker = marker
        self.clock = clock
        self._seen: dict[Path, tuple[FolderState, float]] = {}

    def check(self, folder: Path) -> str | None:
        """None when `folder` is ready now, else what it waits for."""
        if self.marker is not None:
            return None if (folder / self.marker).is_file() else f"no marker file {self.marker} yet"
        now = self.clock()
        try:
            state = read_state(folder)
        except OSError as exc:
            return f"not readable now ({exc.strerror or exc})"
        previous = self._seen.get(folder)
        since = previous[1] if previous is not None and previous[0] == state else now
        self._seen[folder] = (state, since)
        return waiting_reason(state, since, now, self.settle_s)


# -- following the watched folders -----------------------------------------------------------------


@dataclass
class Poll:
    """One look at the watched folders."""

    ready: list[ModelSpec] = field(default_factory=list)
    """Checkpoints ready and not taken before, in discovery order (now taken)."""
    waiting: list[tuple[str, str]] = field(default_factory=list)
    """(folder, what it waits for) of every checkpoint not ready yet."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Folders discovery left out that are not checkpoints being written."""


def check_watchable(model_inputs: list[str]) -> None:
    """Only local folders change while a run trains: anything else is a one-line error."""
    for model_input in model_inputs:
        if not Path(model_input).expanduser().is_dir():
            raise RayevalError(
                f"{option_ref('sweep.watch')} follows local folders, and {model_input!r} is not one (a hub id or a built-in model never gets new "
                f"checkpoints); pass the run folder the training job writes, or drop {option_ref('sweep.watch')}"
            )


class CheckpointWatcher:
    """The checkpoints of the watched folders, each handed over once, when it is ready.

    Discovery runs on every poll (a run folder may hold no checkpoint yet, and which rule
    applies can change as checkpoints appear); a model is known by its path, so the id it was
    taken under stays its id.
    """

    def __init__(self, model_inputs: list[str], rules: ReadinessRules) -> None:
        self.model_inputs = model_inputs
        self.rules = rules
        self.taken: dict[str, ModelSpec] = {}
        self._announced: dict[str, str] = {}

    def poll(self) -> Poll:
        """Look once; the ready checkpoints returned are marked taken."""
        poll = Poll()
        found: list[str] = []
        for model_input in self.model_inputs:
            try:
                resolve_models_with_skips([model_input])
            except RayevalError:
                poll.waiting.append((model_input, NO_CHECKPOINT_YET))
            else:
                found.append(model_input)
        if not found:
            return poll
        discovery = resolve_models_with_skips(found)
        for folder, reason in discovery.skipped:
            if reason == NO_MODEL and parse_checkpoint_name(folder.name) is not None:
                poll.waiting.append((str(folder), f"{reason} yet"))
            else:
                poll.skipped.append((folder, reason))
        for model in discovery.models:
            if model.path in self.taken:
                continue
            waits_for = self.rules.check(Path(model.path))
            if waits_for is None:
                self.taken[model.path] = model
                poll.ready.append(model)
            else:
                poll.waiting.append((model.path, waits_for))
        return poll

    def news(self, poll: Poll) -> list[str]:
        """Lines worth printing about `poll`: each checkpoint taken, and each wait once per reason."""
        lines = []
        for folder, reason in poll.waiting:
            if self._announced.get(folder) != reason:
                self._announced[folder] = reason
                lines.append(f"waiting for {folder}: {reason}")
        for model in poll.ready:
            self._announced.pop(model.path, None)
            lines.append(f"new checkpoint {model.path} taken as {model.id}")
        return lines
