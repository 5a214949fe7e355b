"""LiveBench reasoning scorers, from the official rules (positive and negative cases)."""

from __future__ import annotations

from rayeval.benchmarks.livebench.scorers.reasoning import score_spatial, score_web_of_lies, score_zebra_puzzle


def wol(answer: str, truth: str = "yes, no, unknown") -> int:
    return score_web_of_lies({"ground_truth": truth}, answer)


def test_web_of_lies_answer_sources() -> None:
    assert wol("<solution>yes, no, unknown</solution>") == 1
    assert wol("I think **yes**, then **no** and finally **unknown**.") == 1
    assert wol(r"final: \boxed{yes, no, unknown}") == 1
    assert wol("so: yes, no, unknown") == 1


def test_web_of_lies_wrong_or_missing() -> None:
    assert wol("<solution>no, no, unknown</solution>") == 0
    assert wol("**yes** **no**") == 0
    assert wol("I cannot tell") == 0
    # solution tags are compared case-sensitively, as officially
    assert wol("<solution>Yes, No, Unknown</solution>") == 0


def test_web_of_lies_containment_needs_exactly_three_words() -> None:
    # "unknown" also counts as a "no", so this triple counts 4 words: no containment credit
    assert wol("<solution>so: no, yes, no, unknown</solution>", truth="yes, no, unknown") == 0
    assert wol("<solution>answers yes, yes, yes</solution>", truth="yes, yes, yes") == 1


def test_web_of_lies_plain_triple_uses_first_occurrences() -> None:
    # each triple is found at its first occurrence; the one starting last wins
    assert wol("no, no, no then yes, no, unknown then no, no, no", truth="yes, no, unknown") == 1


def zebra(answer: str, truth: str, release: str) -> float:
    return score_zebra_puzzle({"ground_truth": truth, "livebench_release_date": release}, answer)


def test_old_zebra_uses_last_bold_or_last_word() -> None:
    assert zebra("it is ***dog***", "dog", "2024-06-24") == 1
    assert zebra("it is ***3***", "three", "2024-06-24") == 1
    assert zebra("it is ***horror***", "horror movies", "2024-06-24") == 1
    assert zebra("***cat*** no, ***dog***", "cat", "2024-06-24") == 0
    assert zebra("the answer is cat", "cat", "2024-06-24") == 1
    assert zebra("the answer is cat.", "dog", "2024-06-24") == 0


def test_new_zebra_gives_partial_credit() -> None:
    truth = "1, filmmaking, police-officer, journalist"
    assert zebra("<solution>1, filmmaking, police officer, journalist</solution>", truth, "2024-11-25") == 1.0
    assert zebra("<solution>1, filmmaking, cook, chef</solution>", truth, "2024-11-25") == 0.25
    assert zebra("<solution>position 1, filmmaking</solution>", truth, "2024-11-25") == 0.25
    assert zebra("no solution given", truth, "2024-11-25") == 0
    # a last line with the right number of commas is an answer
    assert zebra("work\n1, filmmaking, police-officer, journalist", truth, "2024-11-25") == 1.0


def test_new_zebra_combines_several_solution_blocks_from_the_end() -> None:
    truth = "a, b"
    assert zebra("<solution>x</solution> later <solution>a, b</solution>", truth, "2025-05-30") == 1.0
    assert zebra("<solution>a</solution><solution>b</solution>", truth, "2025-05-30") == 1.0


def spatial(answer: str, truth: str) -> int:
    return score_spatial({"ground_truth": truth}, answer)


def test_spatial_rules() -> None:
    assert spatial("3", "3") == 1
    assert spatial("so **three** pieces", "3") == 1
    assert spatial("**two tetrahedra**", "tetrahedra") == 1
    assert spatial("**circle square triangle and more**", "triangle") == 0
    assert spatial(r"\boxed{\textbf{5}}", "5") == 1
    assert spatial("**4** then **5** then **6** then **7**", "4") == 0  # only the last three bold count
    assert spatial("I guess 5", "4") == 0
