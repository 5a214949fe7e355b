"""Judge backends: where the judge pool sends its requests.

A backend is started with the judge settings and gives the pool an OpenAI-compatible base URL
and the key to send; `close()` frees whatever it started. Built in: `endpoint` (a server that is
already running: OpenAI, `vllm serve`, any compatible API) and `in-cluster` (a vLLM OpenAI
server the backend starts on its own placement group in the Ray cluster,
`rayeval.judge.server.InClusterJudge`). Packages add backends through the
`rayeval.judge_backends` entry-point group; `--judge-backend NAME` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pydantic import SecretStr

from rayeval.errors import RayevalError
from rayeval.judge.config import JudgeConfig, JudgeOptionRefs
from rayeval.options import option_ref
from rayeval.registry import Registry


class JudgeBackend(Protocol):
    """A started backend: where requests go, with which key."""

    api_base: str
    key: SecretStr | None

    def close(self) -> None:
        """Free what the backend started (nothing for an endpoint)."""


@runtime_checkable
class ReplicatedBackend(JudgeBackend, Protocol):
    """A backend that runs several servers of one judge and can start more (the in-cluster judge)."""

    api_bases: list[str]

    def add_replicas(self, count: int) -> list[str]:
        """Start up to `count` more servers on what is free now; their URLs."""


BackendFactory = Callable[[JudgeConfig, JudgeOptionRefs], JudgeBackend]

JUDGE_BACKENDS: Registry[BackendFactory] = Registry(
    "judge backend",
    {"endpoint": "rayeval.judge.backends:Endpoint", "in-cluster": "rayeval.judge.server:InClusterJudge"},
    entry_point_group="rayeval.judge_backends",
)


class Endpoint:
    """An OpenAI-compatible server that is already running; the key is the judge's."""

    def __init__(self, config: JudgeConfig, refs: JudgeOptionRefs) -> None:
        if config.api_base is None:
            raise RayevalError(f"the endpoint judge backend needs {option_ref(refs.api_base)}; give the judge's URL")
        self.api_base: str = config.api_base
        self.key: SecretStr | None = config.resolved_key()

    def close(self) -> None:
        pass


def start_backend(config: JudgeConfig, refs: JudgeOptionRefs) -> JudgeBackend:
    """Start the backend the settings choose (`config.backend_name`)."""
    return JUDGE_BACKENDS.get(config.backend_name)(config, refs)
