"""Log-likelihoods through an OpenAI-compatible API, from prompt log-probabilities.

The context/continuation split is the offline engine's (`rayeval.engine.loglikelihood`, pure
functions over a tokenizer), so each scored sequence is the same list of token ids; it is sent as
a token-id prompt to `/completions`, and the log-probabilities of the continuation's positions
are summed by the same `continuation_logprob`. Equal ids and the same model give equal numbers.

Which request gives prompt log-probabilities is found out once per engine, on the first sequence:
vLLM's `prompt_logprobs=0` extra parameter, else the classic `echo=true, logprobs=0` (whose
`token_logprobs` cover the prompt). When the endpoint refuses both, or the model's tokenizer
cannot be loaded (it is looked up under the served model's name, so serve a local folder or a
hub id), every log-likelihood request of the engine is answered with an *unavailable*
`FailedResult` naming the reason: the benchmark reports the scores as unavailable, never as 0. A
request that only met overload or timeouts is an ordinary failure, retried by the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from rayeval.endpoint.client import CallOutcome, redact
from rayeval.engine.loglikelihood import ScoredSequence, build_sequences, continuation_logprob
from rayeval.requests import FailedResult, LoglikelihoodRequest, LoglikelihoodResult, Result

Send = Callable[[dict[str, Any]], Awaitable[CallOutcome]]
PROMPT_LOGPROBS = "prompt_logprobs"
ECHO = "echo"


class _Logprob(NamedTuple):
    """What `continuation_logprob` reads at a position (vLLM's `Logprob` has the same field)."""

    logprob: float


def request_body(mode: str, sequence: ScoredSequence) -> dict[str, Any]:
    """A `/completions` body asking for the log-probabilities of `sequence`'s prompt tokens
    (`max_tokens=1`: the one sampled token is discarded, as offline)."""
    body: dict[str, Any] = {"prompt": list(sequence.token_ids), "max_tokens": 1, "temperature": 0.0}
    if mode == PROMPT_LOGPROBS:
        body["extra_body"] = {"prompt_logprobs": 0}
    else:
        body.update(echo=True, logprobs=0)
    return body


def read_positions(mode: str, response: dict[str, Any], sequence: ScoredSequence) -> list[dict[int, _Logprob] | None] | None:
    """Per prompt position, token id → log-probability; None when the response has none."""
    choice = response["choices"][0]
    ids = sequence.token_ids
    if mode == PROMPT_LOGPROBS:
        raw = choice.get("prompt_logprobs")
        if not isinstance(raw, list) or len(raw) < len(ids):
            return None
        return [{int(token): _Logprob(float(entry["logprob"])) for token, entry in at.items()} if at else None for at in raw[: len(ids)]]
    values = (choice.get("logprobs") or {}).get("token_logprobs")
    if not isinstance(values, list) or len(values) < len(ids):
        return None
    return [None if value is None else {token: _Logprob(float(value))} for token, value in zip(ids, values)]


class PromptScorer:
    """Scores `LoglikelihoodRequest`s by sending each scored sequence through `send`."""

    def __init__(self, tokenizer_name: str, send: Send) -> None:
        self._tokenizer_name = tokenizer_name
        self._send = send
        self._tokenizer: Any = None
        self._mode: str | None = None
        self._unavailable: str | None = None

    async def score(self, requests: Sequence[LoglikelihoodRequest]) -> list[Result]:
        """One result per request, in order."""
        tokenizer = self._load_tokenizer()
        if self._unavailable is not None:
            return [self._unavailable_result(r) for r in requests]
        sequences = build_sequences(tokenizer, requests, max_len=None)
        flat = [seq for per_request in sequences for seq in per_request if seq.continuation_length]
        scores: dict[int, float | str] = {}
        if flat and self._mode is None:
            scores[0] = await self._probe(flat[0])
            if self._unavailable is not None:
                return [self._unavailable_result(r) for r in requests]
        if self._mode is not None:
            rest = [i for i in range(len(flat)) if i not in scores]
            for i, value in zip(rest, await asyncio.gather(*(self._logprob(flat[i]) for i in rest))):
                scores[i] = value
        return self._results(requests, sequences, [scores.get(i, "not scored: no answer to the first request") for i in range(len(flat))])

    def _results(
        self, requests: Sequence[LoglikelihoodRequest], sequences: list[list[ScoredSequence]], flat_scores: list[float | str]
    ) -> list[Result]:
        scores = iter(flat_scores)
        results: list[Result] = []
        for request, per_request in zip(requests, sequences):
            values = [next(scores) if seq.continuation_length else 0.0 for seq in per_request]
            error = next((v for v in values if isinstance(v, str)), None)
            if error is not None:
                results.append(FailedResult(key=request.key, reason=error))
                continue
            results.append(
                LoglikelihoodResult(
                    key=request.key,
                    logprobs=tuple(float(v) for v in values),
                    num_tokens=tuple(seq.continuation_length for seq in per_request),
                    prompt_tokens=sum(len(seq.token_ids) for seq in per_request if seq.continuation_length),
                )
            )
        return results

    def _unavailable_result(self, request: LoglikelihoodRequest) -> FailedResult:
        return FailedResult(key=request.key, reason=self._unavailable or "", unavailable=True)

    def _load_tokenizer(self) -> Any:
        if self._tokenizer is None and self._unavailable is None:
            try:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_name)
            except Exception as exc:  # noqa: BLE001 - any reason means: no tokenizer, so no scores
                self._unavailable = redact(
                    f"log-likelihoods need the model's tokenizer, and none loads under the served name {self._tokenizer_name!r} "
                    f"({type(exc).__name__}: {exc}); serve the model under its local folder or hub id",
                    None,
                )
        return self._tokenizer

    async def _probe(self, sequence: ScoredSequence) -> float | str:
        """Find the request form the endpoint answers with prompt log-probabilities."""
        refusals = []
        for mode in (PROMPT_LOGPROBS, ECHO):
            outcome = await self._send(request_body(mode, sequence))
            if outcome.response is None and (outcome.gave_up or outcome.fatal):
                return outcome.error or "no response"  # says nothing about the endpoint's abilities
            positions = read_positions(mode, outcome.response, sequence) if outcome.response is not None else None
            if positions is not None:
                self._mode = mode
                return continuation_logprob(positions, sequence)
            refusals.append(f"{mode}: {outcome.error or 'no log-probabilities in the response'}")
        self._unavailable = redact("the endpoint gives no prompt log-probabilities (" + "; ".join(refusals) + ")", None)
        return self._unavailable

    async def _logprob(self, sequence: ScoredSequence) -> float | str:
        assert self._mode is not None
        outcome = await self._send(request_body(self._mode, sequence))
        if outcome.response is None:
            return outcome.error or "no response"
        positions = read_positions(self._mode, outcome.response, sequence)
        if positions is None:
            return "response without prompt log-probabilities"
        return continuation_logprob(positions, sequence)
