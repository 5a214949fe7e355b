"""LLM-judge calls as a service: a pool of Ray actors behind one interface.

`JudgePool(config).complete(requests)` returns one `JudgeOutcome` per OpenAI chat-completion or
plain completion request: the response body, or the reason it failed after the last retry. The
backend is any OpenAI-compatible endpoint, or a vLLM server the pool starts in the cluster. See
`pool.py`.
Importing this package is cheap: Ray and openai load when the pool starts.
"""

from rayeval.judge.client import JudgeOutcome
from rayeval.judge.config import JudgeConfig
from rayeval.judge.pool import JudgePool

__all__ = ["JudgeConfig", "JudgeOutcome", "JudgePool"]
