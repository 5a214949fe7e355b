"""Prompts too long for the engine's context, without vLLM: which become failure records, what
their reasons say, and how prompts are counted. A tiny whitespace tokenizer stands in for a real
one so each count is visible; the real tokenizer and vLLM's own refusal are checked by
`tests/test_context_vllm.py`."""

from __future__ import annotations

from rayeval.engine.context_fit import ContextLimit, prompt_tokens, too_long_prompts
from rayeval.engine.loglikelihood import sequences_or_failures
from rayeval.requests import FailedResult, LoglikelihoodRequest, is_failure

REF = "⟨engine.max_model_len⟩"


class SpaceTokenizer:
    """One token per whitespace-separated word, `<s>` first when special tokens are added; the
    chat template wraps each message in `<s>` and a role tag (so rendering shows in the count)."""

    bos_token = "<s>"
    eos_token = "</s>"
    bos_token_id = 0
    eos_token_id = 1
    chat_template = "stand-in"

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"<s>": 0, "</s>": 1}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        words = text.replace("<s>", " <s> ").split()
        return ([0] if add_special_tokens else []) + [self.vocab.setdefault(w, len(self.vocab)) for w in words]

    def apply_chat_template(self, messages, tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        return "".join(f"<s> {m['role']}: {m['content']} " for m in messages) + "<s> assistant:"


def test_only_prompts_that_leave_no_token_to_generate_are_failure_records() -> None:
    limit = ContextLimit(max_model_len=108, supported=8192)
    failed = too_long_prompts({"fits": 69, "last-that-fits": 107, "as-long-as-the-context": 108, "longer": 116}, limit, templated=True)
    assert list(failed) == ["as-long-as-the-context", "longer"]
    longer = failed["longer"]
    assert isinstance(longer, FailedResult) and longer.key == "longer"
    assert is_failure(longer), "a failure the next run sends again (and which fails again until the context is raised)"
    assert longer.reason == (
        "prompt longer (with the chat template applied) is 116 tokens long and needs a context of 117 tokens, "
        f"but the engine's context is 108; raise {REF} to 117 or more (the model supports up to 8192) "
        f"or leave this benchmark out (a rerun with the same {REF} fails the same way)"
    )
    assert "needs a context of 109 tokens" in failed["as-long-as-the-context"].reason


def test_a_prompt_beyond_what_the_model_supports_can_only_be_left_out() -> None:
    (failed,) = too_long_prompts({"k": 9000}, ContextLimit(8192, 8192), templated=False).values()
    assert failed.reason == (
        "prompt k (as plain text) is 9000 tokens long and needs a context of 9001 tokens, but the engine's context is 8192 "
        "and the model supports at most 8192: leave this benchmark out for this model (a rerun fails the same way)"
    )
    (unknown,) = too_long_prompts({"k": 300}, ContextLimit(256), templated=True).values()
    assert f"raise {REF} to 301 or more (if the model supports it)" in unknown.reason


def test_prompts_are_counted_as_vllm_builds_them() -> None:
    """`LLM.chat` encodes the rendered template without special tokens (the template has its
    own), `LLM.generate` encodes the plain prompt with them."""
    tok = SpaceTokenizer()
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."})
    # <s> system: Be brief. <s> user: Name a colour. <s> assistant:
    assert prompt_tokens(tok, messages, templated=True) == 11
    # <s> Be brief. Name a colour.
    assert prompt_tokens(tok, messages, templated=False) == 6


def test_a_continuation_that_cannot_follow_one_context_token_fails_its_request_alone() -> None:
    """Log-likelihood sequences are cut from the left to one token less than the context (vLLM
    samples one token even for prompt log-probabilities); a continuation too long for that fails
    its request, and the request beside it is still scored."""
    tok = SpaceTokenizer()
    fits = LoglikelihoodRequest(key="fits", context="a b c d e f", continuations=(" x", " y z"))
    too_long = LoglikelihoodRequest(key="too-long", context="a", continuations=(" x", " p q r s t"))
    built = sequences_or_failures(tok, [fits, too_long], ContextLimit(max_model_len=6, supported=2048))
    scored, failed = built
    assert isinstance(scored, list) and [len(seq.token_ids) for seq in scored] == [5, 5]
    assert scored[1].continuation_length == 2
    assert isinstance(failed, FailedResult) and failed.key == "too-long"
    assert failed.reason.startswith(
        "a continuation of request too-long is 5 tokens long and needs a context of 7 tokens, but the engine's context is 6; raise"
    )
    (uncut,) = sequences_or_failures(tok, [too_long], None)
    assert isinstance(uncut, list) and len(uncut[1].token_ids) == 7, "without a limit (an API engine) nothing is cut or failed"
