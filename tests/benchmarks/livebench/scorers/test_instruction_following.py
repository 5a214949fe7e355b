"""LiveBench instruction-following scorer on real questions (reads ../shared/data/livebench/
instruction_following/<task>/question.jsonl) with hand-written answers; each expected score is
derived from the official rule: (1 if all instructions followed) / 2 + (fraction followed) / 2,
IFEval checkers in strict mode on the stripped answer.
"""

from __future__ import annotations

import json
from functools import cache

import pytest
from paths import SHARED

from rayeval.benchmarks.livebench.scorers.instruction_following import score_instruction_following

DATA = SHARED / "data" / "livebench" / "instruction_following"


@cache
def questions(task: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in (DATA / task / "question.jsonl").read_text().splitlines()]
    return {row["question_id"]: row for row in rows}


def question(task: str, id_prefix: str) -> dict:
    (found,) = [q for qid, q in questions(task).items() if qid.startswith(id_prefix)]
    return found


def test_end_phrase_containing_a_forbidden_word_caps_the_score_at_one_third():
    # end_checker "Is there anything else I can help with?" + forbidden "can" + postscript P.P.S
    q = question("paraphrase", "530c43521484")
    assert q["instruction_id_list"] == ["startend:end_checker", "keywords:forbidden_words", "detectable_content:postscript"]
    answer = "A woman recalls her treatment and later dating.\nP.P.S. She kept her humour.\nIs there anything else I can help with?"
    assert score_instruction_following(q, answer) == pytest.approx((0 + 2 / 3) / 2)
    without_ending = "A woman recalls her treatment and later dating.\nP.P.S. She kept her humour."
    assert score_instruction_following(q, without_ending) == pytest.approx((0 + 2 / 3) / 2)
    assert score_instruction_following(q, "A woman recalls her treatment.") == pytest.approx((0 + 1 / 3) / 2)


def test_two_different_responses():
    q = question("paraphrase", "9d4cec7f4f85")
    assert q["instruction_id_list"] == ["combination:two_responses"]
    assert score_instruction_following(q, "First version.\n******\nSecond version.") == 1.0
    assert score_instruction_following(q, "Same.\n******\nSame.") == 0.0


def test_repeat_prompt_title_and_keywords():
    q = question("simplify", "7bd166b01a70")
    repeat = q["kwargs"][2]["prompt_to_repeat"]
    body = "<<Wardrobe>>\nThe law of style, physics of strength, bedroom information."
    assert score_instruction_following(q, repeat + "\n" + body) == 1.0
    assert score_instruction_following(q, body) == pytest.approx((0 + 2 / 3) / 2)
    # the repeated prompt itself names the keywords and the example title <<poem of joy>>
    assert score_instruction_following(q, repeat.upper()) == 1.0


def test_forbidden_words_match_whole_words_and_end_phrase_may_be_quoted():
    q = question("story_generation", "e2c7a0f09388")
    assert q["kwargs"][0]["forbidden_words"] == ["foot", "post", "task", "test", "vehicle"]
    assert score_instruction_following(q, '"The postman walked on footpaths. Any other questions?"') == 1.0
    assert score_instruction_following(q, "The post came on foot. Any other questions?") == pytest.approx((0 + 1 / 2) / 2)


def test_answer_is_stripped_and_a_blank_answer_follows_nothing():
    q = question("summarize", "cf121245e24d")  # quotation, forbidden words, postscript P.S.
    answer = '\n\n  "Two friends argue about the past.\nP.S. Read the full article."  \n'
    assert score_instruction_following(q, answer) == 1.0
    assert score_instruction_following(q, "   \n") == 0.0


def test_json_format_and_nth_paragraph_first_word():
    json_q = question("simplify", "89cceb226ce2")
    assert score_instruction_following(json_q, '```json\n{"summary": "men\'s wardrobes"}\n```') == 1.0
    assert score_instruction_following(json_q, "{summary: wardrobes}") == 0.0
    para_q = question("summarize", "1908e1f0355b")  # 2 paragraphs, the 2nd starts with "possibility"
    good = "Labour's promise faded.\n\nPossibility, not certainty, defined 1997.\nP.P.S. More soon."
    assert score_instruction_following(para_q, good) == 1.0
    assert score_instruction_following(para_q, good.replace("Possibility", "Certainty")) == pytest.approx((0 + 1 / 2) / 2)


def test_ifbench_format_questions_are_refused():
    q = dict(question("simplify", "89cceb226ce2"), livebench_release_date="2025-11-25")
    with pytest.raises(NotImplementedError):
        score_instruction_following(q, "{}")
