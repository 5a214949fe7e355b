"""Log-likelihood scoring of continuations with vLLM prompt log-probabilities.

`run_loglikelihood` turns every (context, continuation) pair of every request into one token-id
prompt, runs them all in one batched `generate` call with
`SamplingParams(prompt_logprobs=0, max_tokens=1)`, and sums the log-probabilities vLLM reports
for the continuation's prompt positions. No Ray here; engine actors call it.

Prefix cache: vLLM skips reading its prefix cache for prompt-logprob requests unless told
otherwise (`skip_reading_prefix_cache`), because positions served from the cache come back
without log-probabilities (vLLM 0.32 leaves those rows uninitialised). Yet every continuation of
a request shares its context, and TruthfulQA's MC contexts share a long few-shot primer, so
recomputing them is most of the work. So the batch reads the cache, and each output's
`num_cached_tokens` says which positions were served from it: a continuation is scored from
that output when the cache stopped before its first token's row (the last context position).
The cache holds whole KV blocks of identical tokens (128 tokens on vLLM's CPU build, 16 on
GPUs), so a hit can reach into a continuation (its first tokens equal a sibling's across a block
boundary, or the context ends on one): only those sequences are run again without reading the
cache. vLLMs without the flag (before ~0.11), or with the cache off, compute every position.

Token split (lm-evaluation-harness conventions, `TemplateLM._encode_pair` / `loglikelihood`):

- trailing whitespace of the context moves to the front of the continuation (`"A: "` + `"x"` is
  scored as `"A:"` + `" x"`), so a space is not a context token the continuation must follow.
  This applies to chat contexts too: a template's final newline after the assistant header is
  scored as the first continuation token (the same for every continuation, so comparisons
  between them do not change; `num_tokens` counts it);
- the continuation's tokens are those of `encode(context + continuation)` after the first
  `len(encode(context))` tokens, and the scored sequence is `encode(context)` + those tokens, so
  a token merging across the boundary is scored as part of the continuation;
- an empty context becomes the BOS token (EOS when the tokenizer has no BOS), so the first
  continuation token has something to follow;
- raw-text contexts (`chat=False`) are encoded with the tokenizer's default special tokens, as
  vLLM encodes text prompts and as current lm-eval does (`add_bos_token=None`), without adding a
  second BOS to a text that already starts with one; chat contexts (`chat=True`) are rendered
  with the tokenizer's chat template, assistant turn opened (`add_generation_prompt=True`), and
  encoded without special tokens (the template has them). A tokenizer without a chat template
  gets the contents joined by blank lines, as the engine does for generation;
- a sequence longer than the model's context is cut from the left (lm-eval does the same), to
  one token less than the context: vLLM refuses a prompt that leaves no room for the token it
  must sample, and refuses the whole batch with it. A continuation too long to follow even one
  context token cannot be scored: that request's result is a `FailedResult` naming the lengths
  and the fix (`rayeval.engine.context_fit`), and the other requests are scored.

`LoglikelihoodResult.prompt_tokens` counts the prompt tokens of the request's sequences, those
served from the prefix cache included (as API usage counts them); `completion_tokens` is 0 (the one token vLLM must sample per prompt is discarded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rayeval.engine.context_fit import GENERATION_ROOM, ContextLimit, context_limit, render_conversation, too_long_reason
from rayeval.errors import RayevalError
from rayeval.options import option_ref
from rayeval.requests import FailedResult, LoglikelihoodRequest, LoglikelihoodResult

Encode = Callable[[str], list[int]]


@dataclass(frozen=True)
class ScoredSequence:
    """One token-id prompt and how many of its last tokens are the continuation."""

    token_ids: tuple[int, ...]
    continuation_length: int


def render_context(tokenizer, request: LoglikelihoodRequest) -> str:
    """The context text the model sees (chat template applied for `chat=True` requests)."""
    if not request.chat:
        if not isinstance(request.context, str):
            raise TypeError(f"request {request.key}: a chat=False context must be a string")
        return request.context
    if isinstance(request.context, str):
        raise TypeError(f"request {request.key}: a chat=True context must be messages")
    messages = [{"role": m["role"], "content": m["content"]} for m in request.context]
    return render_conversation(tokenizer, messages, templated=bool(getattr(tokenizer, "chat_template", None)))


def context_encoder(tokenizer, request: LoglikelihoodRequest) -> Encode:
    """How this request's texts are turned into token ids (see the module docstring)."""
    templated = request.chat and bool(getattr(tokenizer, "chat_template", None))
    bos = getattr(tokenizer, "bos_token", None)

    def encode(text: str) -> list[int]:
        special = not templated and not (bos and text.startswith(bos))
        return list(tokenizer.encode(text, add_special_tokens=special))

    return encode


def encode_pair(
    encode: Encode, context: str, continuation: str, prefix_token_id: int | None, encode_plain: Encode
) -> tuple[list[int], list[int]]:
    """Context and continuation token ids, split the lm-eval way. `encode` applies the request's
    special-token rule; `encode_plain` adds none (for a continuation after the prefix token)."""
    stripped = context.rstrip()
    if len(stripped) < len(context):
        continuation = context[len(stripped) :] + continuation
        context = stripped
    if not context:
        if prefix_token_id is None:
            raise RayevalError("cannot score a continuation without context: the tokenizer has neither a BOS nor an EOS token")
        return [prefix_token_id], encode_plain(continuation)
    context_ids = encode(context)
    whole = encode(context + continuation)
    return context_ids, whole[len(context_ids) :]


class ContinuationTooLong(RayevalError):
    """A continuation that leaves no room for a context token in `max_len` tokens."""

    def __init__(self, key: str, tokens: int, max_len: int) -> None:
        super().__init__(
            f"request {key}: a continuation of {tokens} tokens does not fit a {max_len}-token sequence; raise {option_ref('engine.max_model_len')}"
        )
        self.tokens = tokens


def fit_to_context(context_ids: list[int], continuation_ids: list[int], max_len: int | None, key: str) -> ScoredSequence:
    """Join the two parts, cutting the context from the left to fit `max_len` tokens (raises
    `ContinuationTooLong` when the continuation alone leaves no room for one context token)."""
    if max_len is not None and len(continuation_ids) >= max_len:
        raise ContinuationTooLong(key, len(continuation_ids), max_len)
    ids = context_ids + continuation_ids
    if max_len is not None and len(ids) > max_len:
        ids = ids[-max_len:]
    return ScoredSequence(token_ids=tuple(ids), continuation_length=len(continuation_ids))


def _prefix_token_id(tokenizer) -> int | None:
    bos = getattr(tokenizer, "bos_token_id", None)
    return bos if bos is not None else getattr(tokenizer, "eos_token_id", None)


def build_sequences(tokenizer, requests: Sequence[LoglikelihoodRequest], max_len: int | None) -> list[list[ScoredSequence]]:
    """Per request, one scored sequence per continuation (pure: needs only a tokenizer)."""
    prefix = _prefix_token_id(tokenizer)

    def encode_plain(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    sequences = []
    for request in requests:
        context = render_context(tokenizer, request)
        encode = context_encoder(tokenizer, request)
        sequences.append(
            [
                fit_to_context(*encode_pair(encode, context, cont, prefix, encode_plain), max_len=max_len, key=request.key)
                for cont in request.continuations
            ]
        )
    return sequences


def sequences_or_failures(
    tokenizer, requests: Sequence[LoglikelihoodRequest], limit: ContextLimit | None
) -> list[list[ScoredSequence] | FailedResult]:
    """`build_sequences` for an engine with context `limit`: each sequence leaves room for the
    token vLLM samples, and a request with a continuation that cannot fit is a failure record
    instead, so the others are still scored (pure)."""
    if limit is None:
        return list(build_sequences(tokenizer, requests, None))
    built: list[list[ScoredSequence] | FailedResult] = []
    for request in requests:
        try:
            built.extend(build_sequences(tokenizer, [request], limit.max_prompt_tokens))
        except ContinuationTooLong as too_long:
            # the continuation, a context token before it and the sampled token
            needed = too_long.tokens + 1 + GENERATION_ROOM
            built.append(
                FailedResult(
                    key=request.key, reason=too_long_reason(f"a continuation of request {request.key}", too_long.tokens, needed, limit)
                )
            )
    return built


def continuation_logprob(prompt_logprobs: Sequence, sequence: ScoredSequence) -> float:
    """Sum of the log-probabilities of the continuation's tokens in a vLLM prompt_logprobs list
    (position i maps token ids to `Logprob`s; the prompt's own token is always present)."""
    total = 0.0
    start = len(sequence.token_ids) - sequence.continuation_length
    for position in range(start, len(sequence.token_ids)):
        total += prompt_logprobs[position][sequence.token_ids[position]].logprob
    return total


def continuation_computed(sequence: ScoredSequence, num_cached_tokens: int | None) -> bool:
    """Whether vLLM computed the log-probabilities of every continuation token although its first
    `num_cached_tokens` prompt tokens came from the prefix cache. The log-probability of the token
    at position p comes from position p - 1, so the first continuation token needs its
    predecessor (the last context token) computed, not cached."""
    first_row = len(sequence.token_ids) - sequence.continuation_length - 1
    return (num_cached_tokens or 0) <= first_row


def _generate(llm, sequences: Sequence[ScoredSequence], read_prefix_cache: bool) -> list:
    """One batched vLLM call over the sequences (vLLM `RequestOutput`s, in order)."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    # without the flag vLLM does not read its prefix cache for prompt-logprob requests
    reading = {"skip_reading_prefix_cache": False} if read_prefix_cache else {}
    # detokenize=False: only the numbers are read, and vLLM 0.32 would otherwise decode the
    # uninitialised token ids of the rows served from the cache (OverflowError, seen on the CPU)
    params = SamplingParams(prompt_logprobs=0, max_tokens=1, temperature=0.0, detokenize=False, **reading)
    return llm.generate([TokensPrompt(prompt_token_ids=list(seq.token_ids)) for seq in sequences], params, use_tqdm=False)


def _can_read_prefix_cache() -> bool:
    """Whether this vLLM lets prompt-logprob requests read the prefix cache (the flag came with
    vLLM 0.11-ish; older versions always recompute)."""
    from vllm import SamplingParams

    return "skip_reading_prefix_cache" in getattr(SamplingParams, "__struct_fields__", ())


def score_recomputing(llm, sequences: Sequence[ScoredSequence]) -> list[float]:
    """Continuation log-likelihoods with every prompt position computed (no prefix-cache reads):
    what `score_reusing_prefixes` falls back to, and the reference it must equal."""
    outputs = _generate(llm, sequences, read_prefix_cache=False)
    return [continuation_logprob(out.prompt_logprobs, seq) for seq, out in zip(sequences, outputs, strict=True)]


def score_reusing_prefixes(llm, sequences: Sequence[ScoredSequence]) -> list[float]:
    """Continuation log-likelihoods, shared prefixes computed once (see the module docstring)."""
    if not _can_read_prefix_cache():
        return score_recomputing(llm, sequences)
    outputs = _generate(llm, sequences, read_prefix_cache=True)
    pairs = list(zip(sequences, outputs, strict=True))
    again = [i for i, (seq, out) in enumerate(pairs) if not continuation_computed(seq, out.num_cached_tokens)]
    recomputed = dict(zip(again, score_recomputing(llm, [sequences[i] for i in again]), strict=True)) if again else {}
    return [recomputed[i] if i in recomputed else continuation_logprob(out.prompt_logprobs, seq) for i, (seq, out) in enumerate(pairs)]


Scorer = Callable[[Any, Sequence[ScoredSequence]], list[float]]


def run_loglikelihood(
    llm, requests: list[LoglikelihoodRequest], scorer: Scorer = score_reusing_prefixes
) -> list[LoglikelihoodResult | FailedResult]:
    """Score all continuations of all `requests`; results in request order, a request whose
    continuation cannot fit the context as a failure record. `scorer` runs the sequences on the
    engine (`score_recomputing` is the reference benchmarks compare with)."""
    sequences = sequences_or_failures(llm.get_tokenizer(), requests, context_limit(llm))
    flat = [seq for per_request in sequences if isinstance(per_request, list) for seq in per_request if seq.continuation_length]
    scores = iter(scorer(llm, flat) if flat else [])
    results: list[LoglikelihoodResult | FailedResult] = []
    for request, per_request in zip(requests, sequences, strict=True):
        if isinstance(per_request, FailedResult):
            results.append(per_request)
            continue
        # an empty continuation has probability 1: log-likelihood 0 without asking the model
        logprobs = tuple(next(scores) if seq.continuation_length else 0.0 for seq in per_request)
        results.append(
            LoglikelihoodResult(
                key=request.key,
                logprobs=logprobs,
                num_tokens=tuple(seq.continuation_length for seq in per_request),
                prompt_tokens=sum(len(seq.token_ids) for seq in per_request if seq.continuation_length),
            )
        )
    return results
