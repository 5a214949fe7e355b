"""Judge settings as typed options (see `rayeval.options`), validated before any request is sent.

The API key is a `SecretStr`: it prints as `**********` in reprs, errors and manifests, and
`manifest()` leaves it out entirely, so it never reaches disk or logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import SecretStr, model_validator

from rayeval.options import EVALUATE, OptionsModel, option, option_ref

KEY_ENV_VARS = ("RAYEVAL_JUDGE_API_KEY", "OPENAI_API_KEY")
DEFAULT_MODEL = "gpt-4-1106-preview"
"""The judge of the public AlpacaEval 2 leaderboard (what `weighted_alpaca_eval_gpt4_turbo` names)."""
DEFAULT_API_BASE = "https://api.openai.com/v1"


class JudgeOptionRefs(NamedTuple):
    """The option paths that chose a judge's model and endpoint, so errors name what to fix
    (`judge.*` for the shared judge; TruthfulQA's judges have their own)."""

    model: str = "judge.model"
    api_base: str = "judge.api_base"


class JudgeConfig(OptionsModel):
    """Where the judge is and how hard the pool may push it.

    Which judge, by what is given:
    - `api_base` (with or without `model`): that endpoint, `model` defaulting to the leaderboard's
      judge `gpt-4-1106-preview`;
    - only `model` (a local path or hub id): the in-cluster judge, a vLLM OpenAI-compatible
      server started in the Ray cluster on its own placement group of `tp` GPUs;
    - neither, or only `model="gpt-4-1106-preview"`: OpenAI's API with the leaderboard's judge,
      as the alpaca_eval package does.
    """

    backend: str | None = option(
        None,
        description="Where judge requests go: endpoint (a running OpenAI-compatible server), in-cluster (a vLLM server rayeval starts "
        "in the Ray cluster) or a backend a package registers [default: endpoint when an endpoint or the leaderboard model is given, else in-cluster].",
        phases=EVALUATE,
    )
    api_base: str | None = option(
        None, description="OpenAI-compatible endpoint of the judge, e.g. https://api.openai.com/v1.", phases=EVALUATE
    )
    api_key: SecretStr | None = option(
        None, description="Judge key [default: RAYEVAL_JUDGE_API_KEY, then OPENAI_API_KEY]. Never written anywhere.", phases=EVALUATE
    )
    model: str = option(
        DEFAULT_MODEL, description="Judge model name; without an endpoint, a path or hub id served in-cluster.", phases=EVALUATE
    )
    tp: int = option(1, description="Tensor-parallel size of an in-cluster judge.", phases=EVALUATE, ge=1)
    replicas: int = option(1, description="In-cluster judge servers started when judged work first appears.", phases=EVALUATE, ge=1)
    max_replicas: int | None = option(
        None,
        description="In-cluster judge servers a sweep may run once its generation is over, started on the GPUs the engines "
        f"freed (as many as fit, up to this) [default: no more than {option_ref('judge.replicas')}].",
        phases=EVALUATE,
        ge=1,
    )
    concurrency: int = option(16, description="Judge requests in flight, whole pool.", phases=EVALUATE, ge=1)
    rpm: float | None = option(None, description="Judge requests per minute, whole pool [default: no cap].", phases=EVALUATE, gt=0)
    tpm: float | None = option(
        None, description="Judge tokens per minute (prompt estimate + max_tokens), whole pool [default: no cap].", phases=EVALUATE, gt=0
    )
    timeout: float = option(120.0, description="Seconds per judge request attempt.", phases=EVALUATE, gt=0)
    max_retries: int = option(6, description="Retries of a judge request after the first attempt.", phases=EVALUATE, ge=0)
    cache_dir: Path | None = option(None, description="Judge answer cache [default: <results-dir>/.judge_cache].", phases=EVALUATE)
    backoff_base: float = option(1.0, description="First retry waits about this many seconds, then doubles.", phases=EVALUATE, gt=0)
    backoff_max: float = option(60.0, description="Longest wait between retries, in seconds.", phases=EVALUATE, gt=0)
    server_start_timeout: float = option(
        900.0, description="Seconds to wait for an in-cluster judge server to start.", phases=EVALUATE, gt=0
    )

    @model_validator(mode="before")
    @classmethod
    def _choose_backend(cls, data: Any) -> Any:
        # The leaderboard judge's name is an OpenAI model, never something to serve in-cluster.
        if isinstance(data, dict) and data.get("api_base") is None and data.get("model") in (None, DEFAULT_MODEL):
            data = {**data, "api_base": DEFAULT_API_BASE}
        return data

    @model_validator(mode="after")
    def _replicas_in_order(self) -> JudgeConfig:
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise ValueError(
                f"{option_ref('judge.max_replicas')} {self.max_replicas} is below {option_ref('judge.replicas')} {self.replicas}; raise it or leave it unset"
            )
        return self

    @property
    def replica_limit(self) -> int:
        """How many in-cluster servers may run at most (`max_replicas`, else `replicas`)."""
        return self.max_replicas or self.replicas

    @property
    def backend_name(self) -> str:
        """The backend to start: the one asked for, else `in-cluster` when only a model is given."""
        return self.backend or ("endpoint" if self.api_base is not None else "in-cluster")

    @property
    def in_cluster(self) -> bool:
        """True when the pool starts its own vLLM judge server in the cluster."""
        return self.backend_name == "in-cluster"

    def resolved_key(self) -> SecretStr | None:
        """The key to send: the option, else the first environment variable that is set."""
        if self.api_key is not None:
            return self.api_key
        for name in KEY_ENV_VARS:
            if os.environ.get(name):
                return SecretStr(os.environ[name])
        return None

    def manifest(self) -> dict[str, Any]:
        """Settings for the run manifest: everything but the key."""
        return self.model_dump(mode="json", exclude={"api_key"})
