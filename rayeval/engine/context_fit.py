"""Prompts longer than the engine's context, found before vLLM sees them and failed one by one.

vLLM refuses a whole batch when one of its prompts leaves no room in the context for a generated
token (`The decoder prompt (length N) is longer than the maximum model length of M`, and the
same at N == M: a generation needs at least one token of room). An engine runs a shard as one
batch, so one long prompt would fail the shard, its retries and then the whole model. Instead
the engine counts each prompt's tokens as vLLM will build them, sends only those that fit, and
answers the others with a `FailedResult` whose reason names the prompt, its length, the context
and the fix. The scheduler treats these as any per-item failure (`rayeval.requests.FailedResult`):
the pair is reported incomplete and not written, the rest of the shard is kept, and the next run
sends only the failed prompts again, which fail the same way until the context is raised (a
changed `max_model_len` makes new shard ids, so that run generates the pair anew).

Pure functions over a tokenizer and numbers, apart from `context_limit`, which reads two
numbers off a loaded `vllm.LLM` without importing vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rayeval.options import option_ref
from rayeval.requests import FailedResult

MAX_LEN = option_ref("engine.max_model_len")

GENERATION_ROOM = 1
"""Tokens a prompt must leave free in the context: vLLM refuses a prompt as long as the context
("plus the number of requested output tokens (at least 1)"), in vLLM 0.32's input processor."""


@dataclass(frozen=True)
class ContextLimit:
    """The engine's context (`max_model_len`) and the longest the model itself supports (what
    `max_model_len` may be raised to; None when this vLLM does not say)."""

    max_model_len: int
    supported: int | None = None

    @property
    def max_prompt_tokens(self) -> int:
        """The longest prompt vLLM accepts in this context."""
        return self.max_model_len - GENERATION_ROOM


def context_limit(llm: Any) -> ContextLimit | None:
    """The context limits of a loaded `vllm.LLM` (None for an engine that does not expose them).
    vLLM derives the model's own limit from its config (`get_and_verify_max_len(None)`, the
    value it uses when no `max_model_len` is given; vLLM 0.32)."""
    config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    max_model_len = getattr(config, "max_model_len", None)
    if not isinstance(max_model_len, int):
        return None
    derive = getattr(config, "get_and_verify_max_len", None)
    return ContextLimit(max_model_len, int(derive(None)) if callable(derive) else None)


def plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """The prompt of a conversation for a model without a chat template: the contents joined by
    blank lines (no template to invent)."""
    return "\n\n".join(m["content"] for m in messages)


def render_conversation(tokenizer: Any, messages: Sequence[dict[str, str]], templated: bool) -> str:
    """The text vLLM makes of a conversation: the chat template with the assistant turn opened
    (`LLM.chat`), or for a model without one the plain prompt (`LLM.generate`)."""
    if templated:
        return tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False, add_generation_prompt=True)
    return plain_prompt(messages)


def prompt_tokens(tokenizer: Any, messages: Sequence[dict[str, str]], templated: bool) -> int:
    """How many tokens vLLM makes of a conversation: the rendered template is encoded without
    special tokens (the template has them), the plain prompt with the tokenizer's."""
    return len(tokenizer.encode(render_conversation(tokenizer, messages, templated), add_special_tokens=not templated))


def too_long_reason(what: str, tokens: int, needed: int, limit: ContextLimit) -> str:
    """One sentence: `what` (`tokens` long) needs a context of `needed` tokens, more than the
    engine's; how to fix it; and that running the same settings again fails the same way."""
    head = f"{what} is {tokens} tokens long and needs a context of {needed} tokens, but the engine's context is {limit.max_model_len}"
    if limit.supported is not None and needed > limit.supported:
        return (
            f"{head} and the model supports at most {limit.supported}: leave this benchmark out for this model (a rerun fails the same way)"
        )
    up_to = f"the model supports up to {limit.supported}" if limit.supported is not None else "if the model supports it"
    return f"{head}; raise {MAX_LEN} to {needed} or more ({up_to}) or leave this benchmark out (a rerun with the same {MAX_LEN} fails the same way)"


def too_long_prompts(counts: dict[str, int], limit: ContextLimit, templated: bool) -> dict[str, FailedResult]:
    """The prompts (by request key, with their token counts) that leave no room to generate, each
    as a failure record with its reason."""
    rendered = "with the chat template applied" if templated else "as plain text"
    return {
        key: FailedResult(key=key, reason=too_long_reason(f"prompt {key} ({rendered})", tokens, tokens + GENERATION_ROOM, limit))
        for key, tokens in counts.items()
        if tokens > limit.max_prompt_tokens
    }
