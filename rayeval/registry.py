"""Named, lazily imported plugins: built-in `"module:object"` entries plus an entry-point group.

One mechanism for every extension point (benchmarks, LiveBench tasks), in the manner of
lm-eval's registry: a name maps to a `"module:object"` string, imported only when that name is
used, so listing names stays cheap and a heavy scorer is imported only when it runs. A package
outside rayeval adds entries through its own `pyproject.toml`::

    [project.entry-points."rayeval.benchmarks"]
    mybench = "mypackage.mybench:BENCHMARK"

Built-in names win over entry points of the same name, so an installed package cannot replace a
built-in scorer behind the user's back.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Generic, TypeVar

from rayeval.entry_points import installed_entry_points
from rayeval.errors import RayevalError

T = TypeVar("T")


def load_target(target: str) -> object:
    """Import the object a `"module:object"` string names."""
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise RayevalError(f"registry entry {target!r} is not of the form 'module:object'; fix the entry point")
    return getattr(importlib.import_module(module_name), attribute)


class Registry(Generic[T]):
    """Names → objects of one kind, imported on first use and then kept."""

    def __init__(
        self, kind: str, builtins: Mapping[str, str], entry_point_group: str | None = None, aliases: Mapping[str, str] | None = None
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._builtins = dict(builtins)
        self._aliases = dict(aliases or {})
        self._added: dict[str, str] = {}
        self._installed: dict[str, str] | None = None
        self._loaded: dict[str, T] = {}

    def refresh(self) -> None:
        """Look the installed entry points up again (they are looked up once per process, and
        kept between processes by `rayeval.entry_points` until the installation changes)."""
        self._installed = None

    def register(self, name: str, target: str) -> None:
        """Add an entry at run time (what an entry point does at install time)."""
        if name in self._targets():
            raise RayevalError(f"{self.kind} {name!r} is already registered; choose another name")
        self._added[name] = target

    def _targets(self) -> dict[str, str]:
        if self._installed is None:
            self._installed = installed_entry_points(self.entry_point_group) if self.entry_point_group else {}
        found = dict(self._installed)
        found.update(self._added)
        found.update(self._builtins)
        return found

    def names(self) -> list[str]:
        """Every registered name: built-ins in declaration order, then the others sorted."""
        others = sorted(set(self._targets()) - set(self._builtins))
        return [*self._builtins, *others]

    def canonical(self, name: str) -> str:
        """The registered name for `name` (aliases resolved); a one-line error when unknown."""
        name = self._aliases.get(name.strip(), name.strip())
        if name not in self._targets():
            raise RayevalError(f"{self.kind} {name!r} is not available; choose from: {', '.join(self.names())}")
        return name

    def target(self, name: str) -> str:
        """The `"module:object"` string registered as `name` (to import it in another process)."""
        return self._targets()[self.canonical(name)]

    def get(self, name: str) -> T:
        """The object registered as `name`, imported on first use."""
        name = self.canonical(name)
        if name not in self._loaded:
            self._loaded[name] = load_target(self._targets()[name])  # type: ignore[assignment]
        return self._loaded[name]
