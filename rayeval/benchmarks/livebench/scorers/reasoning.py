"""LiveBench reasoning scorers: web of lies (three yes/no/unknown answers), zebra puzzles, spatial.

Zebra puzzles switched scorer with the 2024-11-25 release: older questions ask for one answer and
score 0/1 on the last bold (`***word***`) or last word; newer ones ask for a comma-separated list
and score ½·[all right] + ½·fraction right.
"""

from __future__ import annotations

import itertools
import re

from rayeval.benchmarks.livebench.scorers.extract import boxed_content, solution_tags

ZEBRA_LIST_RELEASE = "2024-11-25"
_WOL_WORDS = ("yes", "no", "unknown")
_WOL_COMBINATIONS = tuple(", ".join(words) for words in itertools.product(_WOL_WORDS, repeat=3))
_DIGIT_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine"}
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_SPATIAL_SHAPES = ("tetrahedra", "tetrahedron", "triangle", "square")


def _solution_or_stray(text: str) -> list[str]:
    """`<solution>` spans, else spans between two closing tags (a common malformed answer)."""
    return solution_tags(text) or re.findall(r"</solution>(.*?)</solution>", text)


def score_web_of_lies(question: dict, llm_answer: str) -> int:
    truth = question["ground_truth"].lower()
    tags = _solution_or_stray(llm_answer)
    parsed: str | None = tags[-1] if tags else None
    if parsed is None:
        parsed = _last_bold_verdicts(llm_answer)
    if parsed is None or parsed.strip() == "":
        llm_answer = (
            llm_answer.replace("\\\\boxed{\\\\textbf{", "\\\\boxed{").replace("\\\\fbox{", "\\\\boxed{").replace("\\textbf{", "\\boxed{")
        )
        boxed = boxed_content(llm_answer)
        if boxed is not None:
            parsed = boxed
    if parsed is None:
        parsed = _last_verdict_triple(llm_answer)
    if not parsed:
        return 0
    if parsed == truth:
        return 1
    counted = parsed.count("yes") + parsed.count("no") + parsed.count("unknown")
    return int(counted == 3 and truth in parsed)


def _last_bold_verdicts(text: str) -> str | None:
    """The last (up to) three bold yes/no/unknown words, joined by ", "; None when no bold word is one."""
    words = [word.lower().strip().replace(",", "").replace(".", "") for bold in re.findall(r"\*\*(.*?)\*\*", text) for word in bold.split()]
    verdicts = [word for word in words if word in _WOL_WORDS][-3:]
    return ", ".join(verdicts) if verdicts else None


def _last_verdict_triple(text: str) -> str | None:
    """The yes/no/unknown triple whose *first* occurrence comes last in the text (the official
    rule: it searches each triple once, from the start)."""
    lower = text.lower()
    best, best_index = None, -1
    for combination in _WOL_COMBINATIONS:
        index = lower.find(combination)
        if index > best_index:
            best, best_index = combination, index
    return best


def score_zebra_puzzle(question: dict, llm_answer: str) -> float:
    if question["livebench_release_date"] < ZEBRA_LIST_RELEASE:
        return score_zebra_single(question["ground_truth"], llm_answer)
    return score_zebra_list(question["ground_truth"], llm_answer)


def _matches_single(word: str, truth: str) -> bool:
    return word.lower() == truth or _DIGIT_WORDS.get(word) == truth or word.lower() + " movies" == truth


def score_zebra_single(ground_truth: str, llm_answer: str) -> int:
    """Old zebra format: the last `***bold***` word, else the last word, names the answer."""
    truth = ground_truth.lower()
    bold = re.findall(r"\*\*\*(\w+)\*\*\*", llm_answer)
    if bold:
        return int(_matches_single(bold[-1], truth))
    words = re.findall(r"\b\w+\b", llm_answer)
    return int(_matches_single(words[-1] if words else "", truth))


def score_zebra_list(ground_truth: str, llm_answer: str) -> float:
    """New zebra format: one answer per sub-question, comma-separated; an answer counts when the
    true one is contained in it (hyphens read as spaces, "position" ignored)."""
    truth = ground_truth.split(",")
    found = _solution_or_stray(llm_answer)
    llm_answer = llm_answer.replace("\\\\fbox{", "\\\\boxed{")
    if not found:
        boxed = boxed_content(llm_answer)
        if boxed is not None:
            found = [boxed.replace("\\text{", "").replace("}", "").replace("\\", "")]
    if not found:
        last_line = llm_answer.strip().split("\n")[-1]
        if last_line.count(",") == len(truth) - 1:
            found = [last_line]
    if not found:
        return 0
    answers = [part for text in found for part in text.split(",")][-len(truth) :] if len(found) > 1 else found[0].split(",")
    correct = 0
    for expected, given in zip(truth, answers):
        expected = expected.strip().lower().replace("-", " ")
        given = given.strip().lower().replace("-", " ").replace("position", "")
        correct += expected in given
    return ((correct == len(truth)) + correct / len(truth)) / 2


def score_spatial(question: dict, llm_answer: str) -> int:
    truth = question["ground_truth"]
    if llm_answer == truth:
        return 1
    expected = truth.strip().lower()
    for word in [bold.strip().lower() for bold in re.findall(r"\*\*([^\*]+)\*\*", llm_answer)[-3:]]:
        if word == expected or _NUMBER_WORDS.get(word) == expected:
            return 1
        if any(expected == shape and shape in word and len(word) < 2 * len(shape) + 5 for shape in _SPATIAL_SHAPES):
            return 1
    boxed = boxed_content(llm_answer.replace("\\\\fbox{", "\\\\boxed{"))
    if boxed is None:
        return 0
    for markup in ("\\textbf{", "\\mathbf{", "\\text{", "}"):
        boxed = boxed.replace(markup, "")
    return int(boxed == truth)
