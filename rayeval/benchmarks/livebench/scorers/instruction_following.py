"""LiveBench instruction-following tasks (`paraphrase`, `simplify`, `story_generation`,
`summarize`): the IFEval checkers in strict mode, through the IFEval scorer's
`follows_instructions` (LiveBench's copy of the checkers behaves the same for every instruction
its questions use).

Official rules (Aug 2025): the response is the answer with reasoning spans removed and then
stripped; the prompt is the question's first turn; ``None`` arguments are dropped from each
instruction's kwargs; a blank response follows nothing. Score = (1 if every instruction is
followed else 0) / 2 + (fraction of instructions followed) / 2.

Newer upstream: questions released on or after 2025-11-25 are in the IFBench format and scored by
IFBench's checkers on the ``<solution>`` span; those are not implemented and raise.
"""

from __future__ import annotations

from rayeval.scoring.instructions import follows_instructions

IFBENCH_FORMAT_FROM = "2025-11-25"


def score_instruction_following(question: dict, llm_answer: str) -> float:
    if question["livebench_release_date"] >= IFBENCH_FORMAT_FROM:
        raise NotImplementedError("IFBench-format instruction-following questions (released 2025-11-25 on) are not supported")
    kwargs = [{key: value for key, value in (args or {}).items() if value is not None} for args in question["kwargs"]]
    followed = follows_instructions(question["turns"][0], llm_answer.strip(), question["instruction_id_list"], kwargs)
    all_followed = 1 if all(followed) else 0
    return (all_followed + sum(followed) / len(followed)) / 2
