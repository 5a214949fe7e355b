"""LiveBench language tasks: `connections`, `typos`, `plot_unscrambling` (official rules, Aug 2025;
upstream has not changed them since).

connections (16 words in 4 groups; `ground_truth` is the 16 words comma-separated, group by group):
  Words are stripped, lower-cased and cut into consecutive sets of 4 (a repeated word leaves its
  set short, so the set takes the next word as well).
  - released before 2024-11-25: every ``**bold**`` span (newlines removed first) is a candidate
    answer, split on commas; a ground-truth group counts if some candidate set contains all its
    words; the score is the best candidate's share of groups; no bold span scores 0.
  - released on or after 2024-11-25: the answer is the ``<solution>...</solution>`` text (tried
    as is, then with newlines removed, then with a stray ``</solution>`` as the opening tag), else
    the last ``\\boxed{}`` with ``\\text{``, ``}`` and backslashes removed; newlines are dropped.
    Several solution spans are joined and the last 16 words kept. The score is the share of
    answer sets equal to a ground-truth group (a set repeated in the answer counts each time).
    No answer text scores 0.
typos: the last ``<solution>`` span, else the whole answer without solution tags, narrowed to the
  part between `` --- `` markers when a line has them; lines are joined with spaces. 1 if the
  ground truth occurs in it verbatim, else 0.
plot_unscrambling: the text inside ``<PLOT_SUMMARY>`` (to the last closing tag, or to the end),
  else the whole answer, split into sentences at full stops. Each ground-truth sentence is matched
  to its most similar answer sentence (difflib), and the score is 1 - (edit distance between the
  ground-truth order and the matched positions) / number of ground-truth sentences.
"""

from __future__ import annotations

import difflib
import re

from rayeval.benchmarks.livebench.scorers.extract import last_boxed, solution_tags, unbox

CONNECTIONS_NEW_RULES_FROM = "2024-11-25"


def score_connections(question: dict, llm_answer: str) -> float:
    truth = question["ground_truth"]
    if question["livebench_release_date"] < CONNECTIONS_NEW_RULES_FROM:
        return _connections_bold(truth, llm_answer)
    return _connections_solution(truth, llm_answer)


def group_words(words: list[str]) -> list[set[str]]:
    """Consecutive sets of 4 normalised words (a set grows until it holds 4 distinct words)."""
    groups: list[set[str]] = [set()]
    for word in words:
        if len(groups[-1]) == 4:
            groups.append(set())
        groups[-1].add(word.strip().lower())
    return groups


def _connections_bold(truth: str, answer: str) -> float:
    candidates = re.findall(r"\*\*(.*?)\*\*", answer.replace("\n", ""))
    truth_groups = group_words(truth.split(","))
    best = 0.0
    for candidate in candidates:
        sets = group_words(candidate.split(","))
        found = sum(any(group <= answer_set for answer_set in sets) for group in truth_groups)
        best = max(best, found / len(truth_groups))
    return best


def _connections_solution(truth: str, answer: str) -> float:
    truth_words = truth.split(",")
    spans = _connections_spans(answer)
    if not spans:
        return 0.0
    if len(spans) > 1:
        words = [word for span in spans for word in span.split(",")][-len(truth_words) :]
    else:
        words = spans[0].split(",")
    truth_groups = group_words(truth_words)
    return sum(group in truth_groups for group in group_words(words)) / len(truth_groups)


def _connections_spans(answer: str) -> list[str]:
    flat = answer.replace("\n", "")
    spans = (
        solution_tags(answer)
        or solution_tags(flat)
        or re.findall(r"</solution>(.*?)</solution>", answer)
        or re.findall(r"</solution>(.*?)</solution>", flat)
    )
    if not spans and "\\boxed" in answer:
        boxed = last_boxed(answer)
        if boxed is None:
            raise ValueError("answer has \\boxed without a closed box")
        spans = [unbox(boxed).replace("\\text{", "").replace("}", "").replace("\\", "")]
    return [span.replace("\n", "") for span in spans]


def score_typos(question: dict, llm_answer: str) -> float:
    spans = solution_tags(llm_answer)
    if spans:
        text = spans[-1]
    else:
        text = llm_answer.replace("<solution>", "").replace("</solution>", "")
        marked = re.search(r".* --- (.*?) --- .*", text)
        text = marked.group(1) if marked else text
    text = " ".join(line for line in text.strip().split("\n") if line)
    return 1.0 if question["ground_truth"] in text else 0.0


def score_plot_unscrambling(question: dict, llm_answer: str) -> float:
    summary = _plot_summary(llm_answer)
    truth = [s.strip() for s in question["ground_truth"].split(".")]
    truth = [s for s in truth if s]
    answer = [s.strip() for s in summary.split(".")]
    answer = [s for s in answer if s and s not in ("</PLOT_SUMMARY>", "**End of Plot Summary**")]
    positions = []
    for sentence in truth:
        best = difflib.get_close_matches(sentence, answer, n=1, cutoff=0.0)
        if best:
            positions.append(answer.index(best[0]))
    return 1 - edit_distance(list(range(len(truth))), positions) / len(truth)


def _plot_summary(answer: str) -> str:
    found = re.search(r"<PLOT_SUMMARY>(.*)</PLOT_SUMMARY>", answer, re.DOTALL) or re.search(r"<PLOT_SUMMARY>(.*)", answer, re.DOTALL)
    return found.group(1) if found else answer


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance (unit-cost insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] if x == y else 1 + min(previous[j], current[j - 1], previous[j - 1]))
        previous = current
    return previous[-1]
