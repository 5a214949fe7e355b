"""LiveBench language scorers on hand-made questions in the official format (`livebench/language`
rows: `ground_truth`, `livebench_release_date`, `task`), one rule each. Expected scores follow
from the official rules (LiveBench scorer of Aug 2025).
"""

from __future__ import annotations

import pytest

from rayeval.benchmarks.livebench.scorers.language import (
    edit_distance,
    group_words,
    score_connections,
    score_plot_unscrambling,
    score_typos,
)

GROUPS = [
    ["bass", "pike", "carp", "sole"],
    ["drum", "harp", "lute", "horn"],
    ["ruby", "jade", "onyx", "opal"],
    ["mars", "pluto", "venus", "earth"],
]


def connections(release: str = "2025-04-25") -> dict:
    return {
        "question_id": "hand-connections",
        "category": "language",
        "task": "connections",
        "turns": ["Group these 16 words into 4 groups of 4."],
        "ground_truth": ",".join(word for group in GROUPS for word in group),
        "livebench_release_date": release,
        "livebench_removal_date": "",
    }


def words(*groups: list[str]) -> str:
    return ", ".join(word for group in groups for word in group)


# --- connections, current rules (released on or after 2024-11-25) ---------------------------


def test_all_groups_in_any_order_and_case_score_one():
    shuffled = [list(reversed(g)) for g in GROUPS[::-1]]
    answer = f"Thinking...\n<solution>{words(*shuffled).upper()}</solution>"
    assert score_connections(connections(), answer) == 1.0


def test_partial_credit_per_exact_group():
    mixed = [GROUPS[0], GROUPS[1], ["ruby", "jade", "onyx", "mars"], ["opal", "pluto", "venus", "earth"]]
    assert score_connections(connections(), f"<solution>{words(*mixed)}</solution>") == 0.5


def test_solution_spanning_lines_and_stray_closing_tag():
    multiline = "<solution>" + words(*GROUPS[:2]) + ",\n" + words(*GROUPS[2:]) + "</solution>"
    assert score_connections(connections(), multiline) == 1.0
    stray = "</solution>" + words(*GROUPS) + "</solution>"
    assert score_connections(connections(), stray) == 1.0


def test_several_solution_spans_keep_the_last_sixteen_words():
    draft = "<solution>" + words(GROUPS[0], GROUPS[2], GROUPS[1], GROUPS[3])[::-1] + "</solution>"
    final = "<solution>" + words(*GROUPS) + "</solution>"
    assert score_connections(connections(), draft + "\n" + final) == 1.0
    assert score_connections(connections(), final + "\n" + draft) == 0.0


def test_boxed_answer_is_the_fallback():
    boxed = "\\boxed{" + ", ".join(f"\\text{{{w}}}" for g in GROUPS for w in g) + "}"
    assert score_connections(connections(), f"Final: {boxed}") == 1.0


def test_no_answer_text_scores_zero():
    assert score_connections(connections(), "**" + words(*GROUPS) + "**") == 0.0


def test_a_group_repeated_in_the_answer_counts_each_time():
    answer = "<solution>" + words(GROUPS[0], GROUPS[0], GROUPS[2], GROUPS[3]) + "</solution>"
    assert score_connections(connections(), answer) == 1.0


def test_sets_grow_past_a_repeated_word():
    assert group_words(["a", "b", "a", "c", "d", "e"]) == [{"a", "b", "c", "d"}, {"e"}]


def test_unclosed_box_is_a_scoring_error():
    with pytest.raises(ValueError):
        score_connections(connections(), "answer: \\boxed{bass, pike")


# --- connections, rules before 2024-11-25 ----------------------------------------------------


def test_old_rules_take_the_best_bold_span_and_containment():
    old = connections(release="2024-06-24")
    first = "**" + words(GROUPS[0], ["drum", "harp", "lute", "ruby"]) + "**"
    second = "**" + words(*GROUPS[:3], ["mars", "pluto", "venus", "horn"]) + "**"
    assert score_connections(old, f"Try: {first}\nFinal: {second}") == 0.75
    assert score_connections(old, f"<solution>{words(*GROUPS)}</solution>") == 0.0


# --- typos -----------------------------------------------------------------------------------

TYPOS = {
    "question_id": "hand-typos",
    "category": "language",
    "task": "typos",
    "ground_truth": "The quick brown fox jumps over the lazy dog.",
    "livebench_release_date": "2025-04-25",
}


def test_typos_last_solution_span_must_contain_the_text():
    good = "<solution>Draft</solution> then <solution>The quick brown fox jumps over the lazy dog.</solution>"
    assert score_typos(TYPOS, good) == 1
    assert score_typos(TYPOS, "<solution>The quick brown fox jumps over the lazy dog.</solution><solution>x</solution>") == 0


def test_typos_without_tags_uses_markers_and_joins_lines():
    assert score_typos(TYPOS, "Fixed: --- The quick brown fox jumps over the lazy dog. --- done") == 1
    assert score_typos(TYPOS, "The quick brown fox\n\njumps over the lazy dog.") == 1
    assert score_typos(TYPOS, "The quick brown fox jumps over the lazy dog") == 0  # full stop missing


# --- plot_unscrambling -----------------------------------------------------------------------

PLOT = {
    "question_id": "hand-plot",
    "category": "language",
    "task": "plot_unscrambling",
    "ground_truth": "Anna finds a map. She sails to the island. A storm wrecks her boat. She digs up the chest.",
    "livebench_release_date": "2024-07-26",
}


def test_plot_in_order_scores_one_ignoring_text_outside_the_tags():
    answer = (
        "Let me order it.\n<PLOT_SUMMARY>Anna finds a map. She sails to the island. "
        "A storm wrecks her boat. She digs up the chest.</PLOT_SUMMARY>\n**End of Plot Summary**"
    )
    assert score_plot_unscrambling(PLOT, answer) == 1.0


def test_plot_swapped_neighbours_cost_two_edits():
    answer = "<PLOT_SUMMARY>She sails to the island. Anna finds a map. A storm wrecks her boat. She digs up the chest."
    assert score_plot_unscrambling(PLOT, answer) == 0.5


def test_plot_sentences_match_by_similarity_even_when_one_is_missing():
    # difflib matches the missing "She sails..." to the most similar answer sentence, the last:
    # positions [0, 2, 1, 2] against [0, 1, 2, 3] are two edits apart (insert 2, delete 3).
    answer = "anna finds the map. a storm wrecks the boat. she digs up a chest."
    assert score_plot_unscrambling(PLOT, answer) == pytest.approx(1 - 2 / 4)


def test_edit_distance():
    assert edit_distance([0, 1, 2, 3], [0, 1, 2, 3]) == 0
    assert edit_distance([0, 1, 2, 3], [1, 0, 2, 3]) == 2
    assert edit_distance([0, 1, 2], []) == 3
    assert edit_distance(list("kitten"), list("sitting")) == 3
