"""LiveBench data-analysis scorers, from the official rules (positive and negative cases)."""

from __future__ import annotations

import pytest

from rayeval.benchmarks.livebench.scorers.data_analysis import join_mapping, score_cta, score_tablejoin
from rayeval.benchmarks.livebench.scorers.table_reformat import score_tablereformat, strip_preamble


def test_cta_compares_word_characters_and_accepts_a_suffix() -> None:
    assert score_cta({"ground_truth": "Date_of_Birth"}, "date_of_birth") == 1
    assert score_cta({"ground_truth": "id"}, r"The class is \boxed{\text{id}}") == 1
    assert score_cta({"ground_truth": "id"}, "The answer: id") == 1
    assert score_cta({"ground_truth": "id"}, "name") == 0


def test_cta_unclosed_box_is_an_error() -> None:
    with pytest.raises(TypeError):
        score_cta({"ground_truth": "id"}, r"\boxed{id")


def test_join_mapping_sources() -> None:
    assert join_mapping("{'a': 'x', 'b': None}") == {"a": "x"}
    assert join_mapping("Here:\n```python\n{'a': 'x'}\n```") == {"a": "x"}
    assert join_mapping("<solution>{'a': 'x'}</solution>") == {"a": "x"}
    assert join_mapping(r"\boxed{\{'a': \text{'x'}\}}") == {"a": "x"}
    assert join_mapping("no mapping") == {}
    assert join_mapping("[1, 2]") == {}


def test_tablejoin_f1_rounded_to_two_decimals() -> None:
    question = {"ground_truth": '{"a": "x", "b": "y", "c": "z"}'}
    assert score_tablejoin(question, "{'a': 'x', 'b': 'y', 'c': 'z'}") == 1.0
    assert score_tablejoin(question, "{'a': 'x', 'b': 'q'}") == 0.4  # tp 1, fp 1, fn 2
    assert score_tablejoin(question, "{'d': 'x'}") == 0.0
    assert score_tablejoin(question, "nothing") == 0.0


CSV_TO_JSON = (
    "Please convert the Input Table from CSV format to JSON format. Please respond only with the table. \n Input Table: a,b\n1,x\n2,y\n"
)
CSV_TRUTH_JSON = '{"0":{"a":1,"b":"x"},"1":{"a":2,"b":"y"}}'


def table(answer: str, prompt: str = CSV_TO_JSON, truth: str = CSV_TRUTH_JSON, release: str = "2024-06-24") -> int:
    return score_tablereformat({"turns": [prompt], "ground_truth": truth, "livebench_release_date": release}, answer)


def test_tablereformat_v1_json() -> None:
    assert table('```json\n{"0":{"a":1,"b":"x"},"1":{"a":2,"b":"y"}}\n```') == 1
    assert table('[{"a":1,"b":"x"},{"a":2,"b":"y"}]') == 1  # records orientation
    assert table('[{"a":1,"b":"x"},{"a":3,"b":"y"}]') == 0
    assert table("not a table") == 0


def test_tablereformat_v1_csv_found_after_header() -> None:
    prompt = "Please convert the Input Table from JSON format to CSV format. Please respond only with the table."
    truth = "a,b\n1,x\n2,y\n"
    assert table("a,b\n1,x\n2,y", prompt, truth) == 1
    # trailing lines are dropped only while the table does not parse (here: too many fields)
    assert table("Sure! Below you go.\n\na,b\n1,x\n2,y\n\nHope, this, helps, you", prompt, truth) == 1
    assert table("Sure! Below you go.\n\na,b\n1,x\n2,y\n\nHope this helps", prompt, truth) == 0
    assert table("a,b\n1,x\n2,z", prompt, truth) == 0


def test_tablereformat_v2_reads_format_lines() -> None:
    prompt = "Convert this table.\nSource Format: csv\nTarget Format: markdown\nTable: ..."
    truth = "| a | b |\n|---|---|\n| 1 | x |\n| 2 | y |"
    assert table("| a | b |\n|:--|:--|\n| 1 | x |\n| 2 | y |", prompt, truth, "2025-04-25") == 1
    assert table("| a | b |\n|:--|:--|\n| 1 | x |\n| 2 | z |", prompt, truth, "2025-04-25") == 0


def test_preamble_is_dropped() -> None:
    assert strip_preamble("Here is the table in JSON format:\n{}") == "{}"
