"""How the API engine treats endpoints of models under test, as typed options (see `rayeval.options`).

One API engine actor runs per API model (`openai:NAME@URL`), so concurrency and the rate limits
hold per API model; they change how fast answers come, never what they are, so they are not
hashed into shard ids.
"""

from __future__ import annotations

from rayeval.models import DEFAULT_API_KEY_ENV
from rayeval.options import GENERATE, OptionsModel, option


class ApiConfig(OptionsModel):
    """Concurrency, rate limits, retries and the key variable of API models."""

    concurrency: int = option(16, description="Requests in flight per API model.", phases=GENERATE, ge=1)
    rpm: float | None = option(None, description="Requests per minute per API model [default: no cap].", phases=GENERATE, gt=0)
    tpm: float | None = option(
        None, description="Tokens per minute per API model (prompt estimate + max_tokens) [default: no cap].", phases=GENERATE, gt=0
    )
    timeout: float = option(
        # a 4096-token answer at 20 tokens/s (a slow hosted model) takes about 205 s
        300.0,
        description="Seconds per API request attempt.",
        phases=GENERATE,
        gt=0,
    )
    max_retries: int = option(6, description="Retries of an API request after the first attempt.", phases=GENERATE, ge=0)
    backoff_base: float = option(1.0, description="First API retry waits about this many seconds, then doubles.", phases=GENERATE, gt=0)
    backoff_max: float = option(60.0, description="Longest wait between API retries, in seconds.", phases=GENERATE, gt=0)
    key_env: str = option(
        DEFAULT_API_KEY_ENV,
        description="Environment variable (read on the driver) holding the key of openai:NAME@URL models; unset: no key (local servers).",
        phases=GENERATE,
    )
