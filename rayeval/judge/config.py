"""Judge settings as one validated pydantic model.

Built from the options dict the CLI fills (`options["judge"]`), validated before any request is
sent. The API key is a `SecretStr`: it prints as `**********` in reprs, errors and manifests, and
`manifest()` leaves it out entirely, so it never reaches disk or logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from rayeval.errors import RayevalError

KEY_ENV_VARS = ("RAYEVAL_JUDGE_API_KEY", "OPENAI_API_KEY")
DEFAULT_MODEL = "gpt-4-1106-preview"
"""The judge of the public AlpacaEval 2 leaderboard (what `weighted_alpaca_eval_gpt4_turbo` names)."""
DEFAULT_API_BASE = "https://api.openai.com/v1"
CACHE_DIRNAME = ".judge_cache"


class JudgeConfig(BaseModel):
    """Where the judge is and how hard the pool may push it.

    Which judge, by what is given:
    - `api_base` (with or without `model`): that endpoint, `model` defaulting to the leaderboard's
      judge `gpt-4-1106-preview`;
    - only `model` (a local path or hub id): the in-cluster judge, a vLLM OpenAI-compatible
      server started in the Ray cluster on its own placement group of `tp` GPUs;
    - neither, or only `model="gpt-4-1106-preview"`: OpenAI's API with the leaderboard's judge,
      as the alpaca_eval package does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1")
    api_key: SecretStr | None = Field(None, description="None: RAYEVAL_JUDGE_API_KEY, then OPENAI_API_KEY")
    model: str = DEFAULT_MODEL
    tp: int = Field(1, ge=1, description="tensor-parallel size of the in-cluster judge")
    concurrency: int = Field(16, ge=1, description="requests in flight across the whole pool")
    rpm: float | None = Field(None, gt=0, description="requests per minute across the pool; None: no cap")
    tpm: float | None = Field(None, gt=0, description="tokens per minute (prompt estimate + max_tokens); None: no cap")
    timeout: float = Field(120.0, gt=0, description="seconds per HTTP attempt")
    max_retries: int = Field(6, ge=0, description="retries after the first attempt")
    cache_dir: Path | None = Field(None, description="None: <results-dir>/.judge_cache")
    backoff_base: float = Field(1.0, gt=0, description="first retry waits about this many seconds, then doubles")
    backoff_max: float = Field(60.0, gt=0)
    server_start_timeout: float = Field(900.0, gt=0, description="seconds to wait for the in-cluster judge server")
    model_flag: str = Field("--judge-model", description="CLI option that names this judge's model, for error messages")
    api_base_flag: str = Field("--judge-api-base", description="CLI option that names this judge's endpoint, for error messages")

    @model_validator(mode="before")
    @classmethod
    def _choose_backend(cls, data: Any) -> Any:
        # The leaderboard judge's name is an OpenAI model, never something to serve in-cluster.
        if isinstance(data, dict) and data.get("api_base") is None and data.get("model") in (None, DEFAULT_MODEL):
            data = {**data, "api_base": DEFAULT_API_BASE}
        return data

    @classmethod
    def from_options(cls, options: dict[str, Any] | None, default_cache_dir: Path) -> "JudgeConfig":
        """Validate the CLI's `options["judge"]`; `None` values mean "use the default"."""
        given = {k: v for k, v in (options or {}).items() if v is not None}
        given.setdefault("cache_dir", default_cache_dir)
        try:
            return cls(**given)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise RayevalError(f"invalid judge option {field}: {first['msg']}; fix --judge-{field.replace('_', '-')}") from None

    @property
    def in_cluster(self) -> bool:
        """True when only a model is given: the pool starts its own vLLM judge server."""
        return self.api_base is None

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
        return self.model_dump(mode="json", exclude={"api_key", "model_flag", "api_base_flag"})
