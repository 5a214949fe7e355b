"""The token-splitting logic of `rayeval.engine.loglikelihood`, without vLLM: a tiny word-level
tokenizer stands in, so each rule (lm-eval conventions) is checked on visible tokens."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from rayeval.engine.loglikelihood import (
    ScoredSequence,
    build_sequences,
    continuation_computed,
    continuation_logprob,
    encode_pair,
    fit_to_context,
    render_context,
)
from rayeval.errors import RayevalError
from rayeval.requests import LoglikelihoodRequest


class WordTokenizer:
    """Tokens are words with their leading space (like BPE's "Ġword"), and `<s>`; ids are
    assigned on first sight. `add_special_tokens` puts `<s>` first."""

    bos_token = "<s>"
    eos_token = "</s>"

    def __init__(self, chat_template: str | None = None) -> None:
        self.chat_template = chat_template
        self.vocab: dict[str, int] = {"<s>": 0, "</s>": 1}
        self.calls: list[bool] = []

    @property
    def bos_token_id(self) -> int:
        return 0

    @property
    def eos_token_id(self) -> int:
        return 1

    def pieces(self, text: str) -> list[str]:
        return re.findall(r"<s>|\s*\w+|\s*[^\w\s]|\s+$", text)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        self.calls.append(add_special_tokens)
        ids = [self.vocab.setdefault(p, len(self.vocab)) for p in self.pieces(text)]
        return ([0] if add_special_tokens else []) + ids

    def decode(self, ids) -> str:
        names = {v: k for k, v in self.vocab.items()}
        return "".join(names[i] for i in ids)

    def apply_chat_template(self, messages, tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        return "<s>" + "".join(f"[{m['role']}] {m['content']}\n" for m in messages) + "[assistant]"


def test_trailing_context_space_moves_to_the_continuation():
    tok = WordTokenizer()
    plain = lambda t: tok.encode(t, add_special_tokens=False)  # noqa: E731
    ctx, cont = encode_pair(tok.encode, "Q: x\nA: ", "yes", 0, plain)
    assert tok.decode(ctx) == "<s>Q: x\nA:"
    assert tok.decode(cont) == " yes"  # one token, not "A: " + "yes"
    assert len(cont) == 1


def test_empty_context_scores_after_bos_or_eos():
    tok = WordTokenizer()
    plain = lambda t: tok.encode(t, add_special_tokens=False)  # noqa: E731
    ctx, cont = encode_pair(tok.encode, "", "hello world", 0, plain)
    assert ctx == [0] and tok.decode(cont) == "hello world"  # BOS is the context, not repeated
    ctx, cont = encode_pair(tok.encode, "  ", "hi", 1, plain)
    assert ctx == [1] and tok.decode(cont) == "  hi"
    with pytest.raises(RayevalError):
        encode_pair(tok.encode, "", "hi", None, plain)


def test_text_contexts_get_default_special_tokens_once():
    tok = WordTokenizer()
    (seq,) = build_sequences(tok, [LoglikelihoodRequest(key="k", context="Q: a\nA:", continuations=(" b",))], max_len=None)[0]
    assert tok.decode(seq.token_ids) == "<s>Q: a\nA: b" and seq.continuation_length == 1
    (seq,) = build_sequences(tok, [LoglikelihoodRequest(key="k", context="<s>Q: a\nA:", continuations=(" b",))], max_len=None)[0]
    assert seq.token_ids.count(0) == 1  # the text's own BOS, no second one


def test_chat_contexts_use_the_template_without_extra_special_tokens():
    tok = WordTokenizer(chat_template="{{ whatever }}")
    request = LoglikelihoodRequest(key="k", context=({"role": "user", "content": "Pick"},), continuations=("A", "B"), chat=True)
    assert render_context(tok, request) == "<s>[user] Pick\n[assistant]"
    seqs = build_sequences(tok, [request], max_len=None)[0]
    assert [tok.decode(s.token_ids) for s in seqs] == ["<s>[user] Pick\n[assistant]A", "<s>[user] Pick\n[assistant]B"]
    assert all(s.token_ids.count(0) == 1 for s in seqs)
    assert tok.calls and not any(tok.calls)


def test_chat_context_without_template_joins_contents_like_generation():
    tok = WordTokenizer(chat_template=None)
    request = LoglikelihoodRequest(
        key="k", context=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Pick"}), continuations=("A",), chat=True
    )
    assert render_context(tok, request) == "Be brief.\n\nPick"


def test_long_sequences_lose_their_oldest_context_tokens():
    seq = fit_to_context([1, 2, 3, 4, 5], [6, 7], max_len=4, key="k")
    assert seq == ScoredSequence(token_ids=(4, 5, 6, 7), continuation_length=2)
    assert fit_to_context([1], [2], max_len=None, key="k").token_ids == (1, 2)
    with pytest.raises(RayevalError, match="k"):
        fit_to_context([1], [2, 3, 4, 5], max_len=4, key="k")


def test_continuation_logprob_sums_only_continuation_positions():
    seq = ScoredSequence(token_ids=(5, 6, 7, 8), continuation_length=2)
    entry = lambda token, lp: {token: SimpleNamespace(logprob=lp), 99: SimpleNamespace(logprob=-0.01)}  # noqa: E731
    prompt_logprobs = [None, entry(6, -1.0), entry(7, -2.0), entry(8, -4.0)]
    assert continuation_logprob(prompt_logprobs, seq) == -6.0


def test_a_continuation_counts_as_computed_only_when_the_cache_stopped_before_it():
    """The first continuation token's log-probability comes from the last context position, so
    a cache hit may cover the context but that last position."""
    seq = ScoredSequence(token_ids=(5, 6, 7, 8, 9), continuation_length=2)  # context 5 6 7
    assert continuation_computed(seq, None) and continuation_computed(seq, 0)
    assert continuation_computed(seq, 2)  # position 2 (token 7) computed: token 8 is scored
    assert not continuation_computed(seq, 3)  # the whole context cached: token 8's row is missing
    assert not continuation_computed(seq, 4)  # a sibling's block reached into the continuation
