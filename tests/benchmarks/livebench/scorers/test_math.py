"""LiveBench math scorers, from the official rules (positive and negative cases)."""

from __future__ import annotations

import pytest

from rayeval.benchmarks.livebench.scorers.amps_hard import extract_amps_answer, normalize_final_answer, score_amps_hard
from rayeval.benchmarks.livebench.scorers.extract import boxed_content, last_boxed, unbox
from rayeval.benchmarks.livebench.scorers.latex_value import clearly_different, latex_value
from rayeval.benchmarks.livebench.scorers.math import (
    choice_value,
    expression_ids,
    list_edit_distance,
    score_competition,
    score_rearrangement,
)
from rayeval.benchmarks.livebench.scorers.sympy_equiv import latex_equivalent, parse_candidates, quick_verdict

AMC_PROMPT = (
    r"What is 1+1? $\textbf{(A) }1\qquad\textbf{(B) }2\qquad\textbf{(C) }3\qquad\textbf{(D) }4\qquad\textbf{(E) }5$ "
    "If you cannot determine the correct multiple-choice answer, take your best guess. Once you have "
    "your answer, please duplicate that letter five times in a single string."
)


def amc(answer: str, truth: str = "B") -> float:
    return score_competition({"task": "math_comp", "subtask": "amc_12a_2023", "ground_truth": truth, "turns": [AMC_PROMPT]}, answer)


# ---- boxes ---------------------------------------------------------------------------------------


def test_last_box_is_brace_matched_and_unwrapped() -> None:
    assert boxed_content(r"first \boxed{1} then \boxed{\frac{a}{b}} end") == r"\frac{a}{b}"
    assert last_boxed(r"$\fbox{7}$") == r"\boxed{7}"
    assert boxed_content("no box here") is None
    assert last_boxed(r"\boxed{unclosed") is None


def test_box_with_space_takes_text_up_to_dollar() -> None:
    assert boxed_content(r"so $\boxed 42$ done") == "42"


def test_malformed_box_is_an_error() -> None:
    with pytest.raises(ValueError):
        unbox(r"\boxed}{x}")


# ---- AMC / SMC / AIME ----------------------------------------------------------------------------


def test_amc_accepts_each_official_form() -> None:
    assert amc("so the answer is BBBBB") == 1
    assert amc(r"... \boxed{\text{B}}") == 1
    assert amc("<solution>BBBBB</solution>") == 1
    assert amc("The final value is 2$") == 1  # the choice's value near the end
    assert amc("reasoning\n**B**") == 1
    assert amc("reasoning\nthe answer is (B) here") == 1


def test_amc_rejects_other_letters() -> None:
    assert amc("so the answer is CCCCC") == 0
    assert amc(r"\boxed{C}") == 0
    assert amc("reasoning\nthe answer is (C)") == 0
    assert amc("<solution>BC</solution> nothing else") == 0


def test_amc_needs_a_letter_ground_truth() -> None:
    with pytest.raises(ValueError):
        amc("BBBBB", truth="2")


def test_choice_value_reads_the_choice_list() -> None:
    assert choice_value(AMC_PROMPT, "C") == "3"
    assert choice_value("no choices", "A") == "FAILURE"


def test_aime_answer_must_be_in_the_last_50_characters() -> None:
    question = {"task": "math_comp", "subtask": "aime_i_2024", "ground_truth": "025", "turns": ["q"]}
    assert score_competition(question, "blah " * 30 + "answer 025") == 1
    assert score_competition(question, "answer 025" + " padding" * 10) == 0


def test_unknown_subtask_is_an_error() -> None:
    with pytest.raises(ValueError):
        score_competition({"task": "math_comp", "subtask": "putnam", "ground_truth": "1", "turns": ["q"]}, "1")


# ---- olympiad ------------------------------------------------------------------------------------


def test_olympiad_reads_answer_line_and_scores_edit_distance() -> None:
    question = {"task": "olympiad", "subtask": "usamo", "ground_truth": "1,2,3,4", "turns": ["q"]}
    assert score_competition(question, "work\nAnswer: 1, 2, 3, 4") == 1
    assert score_competition(question, "Answer: 1, 3, 2, 4") == pytest.approx(0.5)
    assert score_competition(question, "Answer: 1, 2, 3") == pytest.approx(0.75)


def test_olympiad_extraction_fallbacks() -> None:
    assert expression_ids("**Answer:**\n3, 1, 2") == [3, 1, 2]  # empty answer line: next line
    assert expression_ids(r"thus $\boxed{2, 5}$") == [2, 5]
    assert expression_ids("the ids are\n<expression 4>, <expression 7>") == [4, 7]
    assert expression_ids("Answer: x, y") == []  # nothing numeric anywhere


def test_list_edit_distance() -> None:
    assert list_edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert list_edit_distance([1, 3], [1, 2, 3]) == 1
    assert list_edit_distance(["NO ANSWER", 2], [1, 2]) == 1
    assert score_rearrangement("5,6", "Answer: 6, 5") == 0.0


# ---- AMPS_Hard -----------------------------------------------------------------------------------


def test_amps_extraction_cleans_and_normalises() -> None:
    truth, _, final = extract_amps_answer(r"\left(x\right)", r"so $f = \boxed{\dfrac{1}{2} x^2 + C}$")
    assert truth == "(x)"
    assert final == r"\frac{1}{2} x^2 "
    assert extract_amps_answer("5", "the result is $x = 5$")[2] == "5"
    assert extract_amps_answer("5", "no math here")[2] is None
    assert normalize_final_answer("100,000") == "100000"
    assert normalize_final_answer(r"\frac12") == r"\frac{1}{2}"


def amps(truth: str, answer: str) -> int:
    return score_amps_hard({"ground_truth": truth}, answer)


def test_amps_equivalent_forms_are_right() -> None:
    assert amps(r"6 (x-\frac{1}{3})^2+\frac{4}{3}", r"$\boxed{6 (x-\frac{1}{3})^2+\frac{4}{3}}$") == 1
    assert amps(r"5 (-x-20) x", r"\boxed{-5x(x+20)}") == 1
    assert amps(r"\frac{29}{\sqrt{2}}", r"\boxed{\frac{29\sqrt{2}}{2}}") == 1
    assert amps(r"\cos (5) \cos (x)-\sin (5) \sin (x)", r"\boxed{\cos (x+5)}") == 1
    assert amps("0.5", r"\boxed{0.5004}") == 1  # within the official 0.001


def test_amps_wrong_answers_are_wrong() -> None:
    assert amps(r"\frac{1877}{10}", r"\boxed{\frac{1507}{10}}") == 0
    assert amps("0.5", r"\boxed{0.502}") == 0
    assert amps(r"-\lambda^3-8 \lambda^2+229 \lambda +1271", r"\boxed{-\lambda^3 - 8\lambda^2 + 151\lambda + 603}") == 0
    assert amps(r"\text{$\$$Aborted}", r"\boxed{x}") == 0  # unparsable ground truth


def test_amps_without_box_or_math_compares_the_ending() -> None:
    assert amps("42", "so it is 42.") == 1
    assert amps("42", "so it is 41.") == 0


def test_latex_equivalent_follows_sympys_reading_not_mathematics() -> None:
    # cube root of a square vs square of a cube root differ on sympy's principal branch
    assert not latex_equivalent(r"-\frac{16 x}{3 \sqrt[3]{5-8 x^2}^2}", r"-\frac{16x}{3\sqrt[3]{(5-8x^2)^2}}")
    # lark reads `x (` here only as a call of an undefined function x ...
    truth = r"e^{3 x^5-6} x (2 \sec^2(x^2+9)+15 x^3 \tan (x^2+9))"
    assert not latex_equivalent(truth, r"e^{3 x^5-6} (15 x^4 \tan (x^2+9)+2 x \sec ^2(x^2+9))")
    # ... but alone it is ambiguous, and any reading that matches makes the answer right
    assert latex_equivalent(r"x (x+1)", r"x^2+x")


def test_numeric_reader_subset() -> None:
    assert latex_value(r"\frac{1}{2} + 2^{3}") == pytest.approx(8.5)
    assert latex_value(r"\sqrt[3]{-8}") == pytest.approx(1 + 1.7320508j)  # principal root, as sympy
    assert latex_value(r"2 \cos (0)") == pytest.approx(2)  # a function last in its group
    assert latex_value(r"\sin (x) - 2") is None  # sympy may read this as sin(x - 2)
    assert latex_value(r"\sin x") is None
    assert latex_value("x (x+1)") is None  # may be a function call
    assert latex_value("1/2 x") is None  # ambiguous
    assert clearly_different("2", "3")
    assert not clearly_different("2", "2.0005")
    assert not clearly_different(r"\sin(x) \cos(x)", "3")


def test_parser_chain_retries_lark_only_on_a_different_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy.parsing.latex

    calls = []

    def failing(latex: str, backend: str = "antlr") -> None:
        calls.append((backend, latex))
        raise ValueError("unreadable")

    monkeypatch.setattr(sympy.parsing.latex, "parse_latex", failing)
    assert parse_candidates(r"\frac{1}{2}") == []
    assert calls == [("lark", r"\frac{1}{2}"), ("antlr", r"\frac{1}{2}")]
    calls.clear()
    assert parse_candidates(r"\\frac{1}{2}") == []
    assert calls == [("lark", r"\\frac{1}{2}"), ("lark", r"\frac{1}{2}"), ("antlr", r"\\frac{1}{2}")]


def test_quick_verdict_is_sure_or_leaves_it_to_simplify() -> None:
    import sympy

    x = sympy.Symbol("x")
    assert quick_verdict(x - x) is True
    assert quick_verdict((x**2 - 1) / (x - 1) - (x + 1)) is True  # cancel proves it
    assert quick_verdict(sympy.sin(x) - x) is False  # clearly non-zero at a probe point
    assert quick_verdict(sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1) is None  # zero, but only simplify knows
    # zero at the first probe point (x = 0.7318) without a proof: the next point shows the difference
    assert quick_verdict(x - sympy.Rational("0.7318")) is False
