"""LiveBench AMPS_Hard: a LaTeX final answer compared with the ground truth by sympy equivalence.

Extraction follows the official scorer (a Minerva-math derivative): clean the answer's LaTeX
(`\\dfrac`, `\\left`, `+C`, ...), take the last box (else the last `$...$` block, after its last
`=`), normalise it as Lewkowycz et al. (2022) do, then compare. Without any of those, the answer
is right only when it literally ends with the ground truth.

Equivalence is decided exactly as the official check (see `rayeval.benchmarks.livebench.scorers.sympy_equiv`),
only faster.

This is the scorer of August 2025. Later upstream versions differ: `simplify` runs under a 60 s
limit, the last parser fallback is latex2sympy2 instead of sympy's ANTLR backend, and an answer
sympy cannot confirm goes to an OpenAI model (without an API key that is an error there). In
August 2025 the model fallback ran only when `OPENAI_API_KEY` was set; the reference judgments were
made without it, and so are ours.
"""

from __future__ import annotations

import re

from rayeval.benchmarks.livebench.scorers.extract import boxed_content

_ANSWER_CLEANUPS = (
    ("+C", ""),
    ("+ C", ""),
    ("+ c", ""),
    ("+c", ""),
    ("\\\\fbox{", "\\\\boxed{"),
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\left", ""),
    ("\\right", ""),
    ("\\bigl", ""),
    ("\\bigr", ""),
    ("\\Bigl", ""),
    ("\\Bigr", ""),
    ("\\,", ""),
    ("\\;", ""),
    ("\n", ""),
    ("\\cdot", "*"),
)
_TRUTH_CLEANUPS = (("\\left", ""), ("\\right", ""), (" ^", "^"), ("\\ ", "*"))
_OR = "\\quad \\text{or} \\quad"


def _replace_all(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def extract_amps_answer(ground_truth: str | list, llm_answer: str) -> tuple[str, str, str | None]:
    """(cleaned ground truth, cleaned answer, normalised final answer or None when none found)."""
    answer = _replace_all(llm_answer, _ANSWER_CLEANUPS)
    truth = _replace_all(ground_truth[-1] if isinstance(ground_truth, list) else ground_truth, _TRUTH_CLEANUPS)
    boxed = boxed_content(answer)
    if boxed is not None:
        return truth, answer, normalize_final_answer(boxed)
    last_line = answer.split("\n")[-1]
    if last_line.count("$") < 2:
        return truth, answer, None
    close = last_line.rfind("$")
    if last_line[close - 1] == "$":
        close -= 1
    math = last_line[last_line.rfind("$", 0, close) + 1 : close]
    if "=" in math:
        math = math.split("=")[-1].strip()
    elif _OR in math:
        math = math.split(_OR)[-1].strip()
    return truth, answer, normalize_final_answer(math)


def normalize_final_answer(answer: str) -> str:
    """Minerva's final-answer normalisation (appendix D of Lewkowycz et al., 2022)."""
    answer = answer.split("=")[-1]
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)
    answer = re.sub(r"(sqrt)([^{\[])", "sqrt{\\2}", answer)
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():
        answer = answer.replace(",", "")
    return answer


def score_amps_hard(question: dict, llm_answer: str) -> int:
    truth, answer, final = extract_amps_answer(question["ground_truth"], llm_answer)
    if final is not None:
        from rayeval.benchmarks.livebench.scorers.sympy_equiv import latex_equivalent

        return int(latex_equivalent(truth, final))
    if answer.endswith("."):
        answer = answer[:-1]
    return int(truth == answer[-len(truth) :])
