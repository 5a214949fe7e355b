"""Engine requests and results as plain data.

Benchmarks build these and read them back; engine actors execute them. Neither side knows the
other: an engine never sees a benchmark, a benchmark never sees Ray or vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
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


FALLBACK_MAX_TOKENS = 1024
"""New tokens for a request that names no limit when the user set none either (every built-in
benchmark names its own; this is `Benchmark.default_max_tokens` for requests built elsewhere)."""


def max_new_tokens(request: ChatRequest, user_max_tokens: int | None) -> int:
    """The user's `--max-tokens`, else the benchmark's, else `FALLBACK_MAX_TOKENS`: every engine
    applies the same rule."""
    return user_max_tokens or request.max_tokens or FALLBACK_MAX_TOKENS


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


@dataclass(frozen=True)
class FailedResult:
    """A request the engine could not answer: a per-item failure record, never an empty answer.

    The API engine produces these for requests that fail for good, the vLLM engine for prompts
    longer than its context (`rayeval.engine.context_fit`); a local engine that fails otherwise
    fails its whole shard, which is retried. How a failure travels (see `rayeval.scheduler`): the
    shard that holds it is journaled with the record; a (model, benchmark) pair with a failed
    request gets no output files, so no scorer ever sees it, and it is reported as incomplete
    with the reasons; its journal stays, and the next run sends only the failed requests again
    (`retry_requests`) and writes the files once every request is answered.

    `unavailable` marks a request the engine can never answer (an endpoint without prompt
    log-probabilities cannot score a continuation): retrying would not help, so the benchmark
    gets it as an answer to write down as "unavailable, because `reason`", never as a score of 0.
    """

    key: str
    reason: str
    unavailable: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


Result = GenerationResult | LoglikelihoodResult | FailedResult


def is_failure(result: Result) -> bool:
    """True for a failure the next run should retry (not for a permanently unavailable answer)."""
    return isinstance(result, FailedResult) and not result.unavailable


def retry_requests(requests: Sequence[Request], results: Sequence[Result]) -> list[Request]:
    """The requests of a journaled shard whose results are retryable failures, in order."""
    failed = {r.key for r in results if is_failure(r)}
    return [r for r in requests if r.key in failed] if failed else []


def merge_results(earlier: Sequence[Result], fresh: Sequence[Result]) -> list[Result]:
    """A shard's earlier results with the fresh results of its retried requests put in place."""
    by_key = {r.key: r for r in fresh}
    return [by_key.get(r.key, r) for r in earlier]


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


_KINDS: dict[type, str] = {GenerationResult: "generation", LoglikelihoodResult: "loglikelihood", FailedResult: "failed"}


def result_to_dict(result: Result) -> dict:
    """Serialise a result for the shard journal (JSON)."""
    return {"kind": _KINDS[type(result)], **result.__dict__}


def result_from_dict(data: dict) -> Result:
    """Inverse of `result_to_dict`."""
    data = dict(data)
    kind = data.pop("kind")
    if kind == "generation":
        return GenerationResult(**data)
    if kind == "failed":
        return FailedResult(**data)
    return LoglikelihoodResult(
        key=data["key"],
        logprobs=tuple(data["logprobs"]),
        num_tokens=tuple(data["num_tokens"]),
        prompt_tokens=data.get("prompt_tokens", 0),
        completion_tokens=data.get("completion_tokens", 0),
    )
