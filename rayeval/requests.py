"""Engine requests and results as plain data.

Benchmarks build these and read them back; engine actors execute them. Neither side knows the
other: an engine never sees a benchmark, a benchmark never sees Ray or vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatRequest:
    """Generate one completion for a conversation.

    `messages` are OpenAI-style `{"role", "content"}` dicts. Models without a chat template get
    the plain concatenated contents instead (see the engine). `max_tokens` is the benchmark's
    default; a user's `--max-tokens` overrides it.
    """

    key: str
    messages: tuple[dict[str, str], ...]
    max_tokens: int | None = None


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score each continuation's total log-probability after a shared context.

    `context` is a conversation rendered with the model's chat template (`chat=True`, the
    assistant turn opened) or raw text (`chat=False`). Continuations are appended verbatim.
    """

    key: str
    context: tuple[dict[str, str], ...] | str
    continuations: tuple[str, ...]
    chat: bool = False


Request = ChatRequest | LoglikelihoodRequest


@dataclass(frozen=True)
class GenerationResult:
    """What the engine produced for one `ChatRequest`."""

    key: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


@dataclass(frozen=True)
class LoglikelihoodResult:
    """Per-continuation sums of token log-probabilities, and how many tokens each had."""

    key: str
    logprobs: tuple[float, ...]
    num_tokens: tuple[int, ...]
    prompt_tokens: int = 0
    completion_tokens: int = field(default=0)


Result = GenerationResult | LoglikelihoodResult


def generated(result: Result) -> GenerationResult:
    """`result` as the answer to a `ChatRequest`; a benchmark that gets anything else has built
    its requests and read its results under different keys, which is a bug, not a user error."""
    if not isinstance(result, GenerationResult):
        raise TypeError(f"result {result.key} is a {type(result).__name__}, not a generation")
    return result


def scored(result: Result) -> LoglikelihoodResult:
    """`result` as the answer to a `LoglikelihoodRequest` (see `generated`)."""
    if not isinstance(result, LoglikelihoodResult):
        raise TypeError(f"result {result.key} is a {type(result).__name__}, not a log-likelihood result")
    return result


def result_to_dict(result: Result) -> dict:
    """Serialise a result for the shard journal (JSON)."""
    kind = "generation" if isinstance(result, GenerationResult) else "loglikelihood"
    return {"kind": kind, **result.__dict__}


def result_from_dict(data: dict) -> Result:
    """Inverse of `result_to_dict`."""
    data = dict(data)
    kind = data.pop("kind")
    if kind == "generation":
        return GenerationResult(**data)
    return LoglikelihoodResult(
        key=data["key"],
        logprobs=tuple(data["logprobs"]),
        num_tokens=tuple(data["num_tokens"]),
        prompt_tokens=data.get("prompt_tokens", 0),
        completion_tokens=data.get("completion_tokens", 0),
    )
