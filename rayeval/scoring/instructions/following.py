"""Whether a response follows a prompt's instructions, in the official strict and loose modes.

Strict: the response as it is. Loose (the paper's upper bound): an instruction is followed if any
of eight variants of the response follows it -- the response, the response without its first
line, without its last line, without both, and each of those four with every `*` removed.
In both modes a blank response (or blank variant) follows nothing.

`follows_instructions` is the one entry point; LiveBench's instruction-following tasks reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rayeval.scoring.instructions.checkers import Check, build_check


def loose_variants(response: str) -> list[str]:
    """The distinct loose-mode variants of `response`, the response itself first.

    Duplicates are dropped (a response without `*` has the same text twice): a predicate gives
    the same verdict on the same text, so only the order of first occurrence matters.
    """
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    variants = [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]
    return list(dict.fromkeys(variants))


def _checks(instruction_id_list: Sequence[str], kwargs: Sequence[dict[str, Any] | None]) -> list[Check]:
    if len(kwargs) != len(instruction_id_list):
        raise ValueError(f"{len(instruction_id_list)} instruction ids but {len(kwargs)} kwargs entries")
    return [build_check(instruction_id, args) for instruction_id, args in zip(instruction_id_list, kwargs)]


def _follows(check: Check, texts: Sequence[str]) -> bool:
    return any(text.strip() and check(text) for text in texts)


def follows_instructions(
    prompt: str,
    response: str,
    instruction_id_list: Sequence[str],
    kwargs: Sequence[dict[str, Any] | None],
    loose: bool = False,
) -> list[bool]:
    """One verdict per instruction of `instruction_id_list` (with its arguments in `kwargs`,
    None values dropped) for `response` to `prompt`.

    `prompt` is kept for the rules' interface (the official scorer can pass the prompt to an
    instruction that asks for it; none of the 25 does). Raises ValueError for an unknown
    instruction id or bad arguments.
    """
    del prompt  # no instruction of the official registry takes the prompt
    texts = loose_variants(response) if loose else [response]
    return [_follows(check, texts) for check in _checks(instruction_id_list, kwargs)]


def follows_both(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs: Sequence[dict[str, Any] | None],
) -> tuple[list[bool], list[bool]]:
    """Strict and loose verdicts in one pass: the strict verdict is the loose verdict on the
    first variant, so a strictly followed instruction is not checked again."""
    variants = loose_variants(response)
    strict, loose = [], []
    for check in _checks(instruction_id_list, kwargs):
        followed = _follows(check, variants[:1])
        strict.append(followed)
        loose.append(followed or _follows(check, variants[1:]))
    return strict, loose
