"""LiveBench math competition scorers: AMC/SMC letter answers, AIME digits, olympiad orderings.

The official scorer dispatches on the question's `subtask` (not its task): `amc*`, `smc*` and
`*_amc_*` are multiple-choice contests, `aime*` three-digit answers, `imo`/`usamo` proof
rearrangements (fill-in lists of expression ids, scored by list edit distance). AMPS_Hard lives in
`amps_hard.py` (it needs sympy).

These are the rules of the official scorer as of August 2025. Later upstream versions also accept
an AIME answer given as one repeated character in `<solution>` tags (a no-op for three-digit
answers in practice) and compute the olympiad edit distance in pure Python (same values).
"""

from __future__ import annotations

import re

from rayeval.benchmarks.livebench.scorers.extract import boxed_content, solution_tags

LETTERS = frozenset("abcde")
_CHOICE = re.compile(r"\\textbf{\(([A-E])\)\s?}(.*?)(?:\\qquad|\$)")


def score_competition(question: dict, llm_answer: str) -> float:
    """Score a `math_comp` or `olympiad` question by its subtask, as the official dispatcher does."""
    subtask = question.get("subtask") or question["task"]
    parts = subtask.split("_")
    if parts[0] in ("amc", "smc") or (len(parts) > 1 and parts[1] == "amc"):
        return score_multiple_choice(question["ground_truth"], llm_answer, question["turns"][0])
    if parts[0] == "aime":
        return score_aime(question["ground_truth"], llm_answer)
    if parts[0] in ("imo", "usamo"):
        return score_rearrangement(question["ground_truth"], llm_answer)
    raise ValueError(f"no math competition rule for subtask {subtask!r}")


def score_multiple_choice(ground_truth: str, llm_answer: str, question_text: str) -> int:
    """AMC-style answer: the letter (asked for five times in a row), a boxed letter, the choice's
    value near the end, or the letter alone / in parentheses on the last line."""
    if not (isinstance(ground_truth, str) and len(ground_truth) == 1 and "A" <= ground_truth <= "E"):
        raise ValueError(f"multiple-choice ground truth must be one letter A-E, got {ground_truth!r}")
    letter = ground_truth.lower()
    tags = solution_tags(llm_answer)
    if tags and len(set(tags[-1])) == 1 and tags[-1][0].lower() == letter:
        return 1
    if ground_truth * 4 in llm_answer:
        return 1
    llm_answer = llm_answer.replace("\\\\fbox{", "\\\\boxed{")
    boxed = boxed_content(llm_answer)
    if boxed is not None:
        parsed = boxed.replace("\\text{", "").replace("}", "").replace("\\", "").lower()
        if parsed in LETTERS and parsed == letter:
            return 1
    value = choice_value(question_text, ground_truth)
    if value in llm_answer[-(20 + len(value)) :]:
        return 1
    last_line = llm_answer.strip().split("\n")[-1]
    if last_line.strip().replace("*", "").lower() == letter:
        return 1
    if "(" in last_line and ")" in last_line:
        return int(last_line.split("(")[1].split(")")[0].lower() == letter)
    return 0


def choice_value(question_text: str, letter: str) -> str:
    """The text of answer choice `letter` in the question's `\\textbf{(X) }` list ("FAILURE"
    when absent, a string no answer ends with, as the official scorer does)."""
    choices = {found: value.strip() for found, value in _CHOICE.findall(question_text)}
    value = choices.get(letter) or "FAILURE"
    return value.strip().strip("$").strip("~")


def score_aime(ground_truth: str, llm_answer: str) -> int:
    """AIME: the three-digit answer appears within the last 50 characters."""
    return int(ground_truth in llm_answer[-50:])


def score_rearrangement(ground_truth: str, llm_answer: str) -> float:
    """Olympiad fill-in: 1 - edit distance between the answered and true id lists / longer length."""
    truth = [int(part) for part in ground_truth.split(",")]
    answered = expression_ids(llm_answer)
    return 1 - list_edit_distance(answered, truth) / max(len(answered), len(truth))


def list_edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two sequences (unit insert, delete, substitute)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


NO_ANSWER = "NO ANSWER"


def _as_ids(pieces: list[str]) -> list | None:
    """Integers of `pieces` (NO_ANSWER where one is not an integer); None when none is."""
    ids: list = []
    for piece in pieces:
        try:
            ids.append(int(piece))
        except ValueError:
            ids.append(NO_ANSWER)
    return None if not ids or set(ids) == {NO_ANSWER} else ids


def _digit_run(text: str) -> tuple[str, int]:
    """The first run of digits in `text` and how many characters lie outside it."""
    start = 0
    while start < len(text) and not text[start].isdigit():
        start += 1
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[start:end], len(text) - (end - start)


def expression_ids(generation: str) -> list:
    """The answered list of expression ids, tried in the official order: the last `Answer:` line
    (or the line after an empty one), the last box, the last line, then the text after the last
    `answer:` read up to the first piece with trailing junk."""
    lower = generation.lower()
    ids = None
    if "answer:" in lower:
        lines = lower.strip().split("\n")
        index = max(i for i, line in enumerate(lines) if "answer:" in line)
        answer = _clean_answer_line(lines[index].split("answer:")[1])
        if answer == "" and index < len(lines) - 1:
            answer = _clean_answer_line(lines[index + 1])
        ids = _as_ids([_clean_id(piece) for piece in answer.split(",")])
    if ids is None and "\\boxed" in generation:
        boxed = boxed_content(generation)
        text = generation if boxed is None else boxed
        text = text.replace("\\text{", "").replace("}", "").replace("\\", "")
        ids = _as_ids([piece.strip() for piece in text.strip().split(",")])
    if ids is None:
        pieces = [_digit_run(piece)[0] for piece in lower.strip().split("\n")[-1].strip().split(",")]
        ids = _as_ids([piece.strip() for piece in pieces if piece.strip()])
    if ids is None:
        ids = []
        for i, piece in enumerate(lower.split("answer:")[-1].split(",")):
            digits, junk = _digit_run(piece.strip())
            if digits not in ("", "₂"):
                ids.append(int(digits))
            if i > 0 and junk > 0:
                break
    return ids


def _clean_answer_line(text: str) -> str:
    return text.replace("answer:", "").replace("**", "").replace(".", "").strip()


def _clean_id(piece: str) -> str:
    piece = piece.strip().split(" ")[-1]
    for junk in ("$", "{", "}", "\\", "boxed", "<", ">"):
        piece = piece.replace(junk, "")
    return piece
