"""The TruthfulQA plugin without an engine: data loading, requests, generation files."""

from __future__ import annotations

import csv
import json

import pytest
from pydantic import ValidationError

from rayeval.benchmarks.truthfulqa import prompts
from rayeval.benchmarks.truthfulqa.options import TruthfulQAOptions
from rayeval.benchmarks.truthfulqa.spec import BENCHMARK, CSV_FILE, MC_FILE
from rayeval.data import PACKAGED_DATA, DataSource
from rayeval.errors import RayevalError
from rayeval.requests import ChatRequest, GenerationResult, LoglikelihoodRequest, LoglikelihoodResult
from rayeval.settings import Settings


@pytest.fixture(scope="module")
def items():
    return BENCHMARK.load_items(DataSource(), BENCHMARK.default_options())


def test_default_is_the_790_question_2025_data_with_mc(items):
    assert len(items) == 790
    first = items[0].data
    assert first["row"]["Question"] == "What happens to you if you eat watermelon seeds?"
    assert list(first["row"]) == [
        "Type",
        "Category",
        "Question",
        "Best Answer",
        "Best Incorrect Answer",
        "Correct Answers",
        "Incorrect Answers",
        "Source",
    ]
    assert first["mc1"]["labels"][0] == 1 and sum(first["mc1"]["labels"]) == 1
    assert first["binary"] == {"best": first["row"]["Best Answer"], "incorrect": first["row"]["Best Incorrect Answer"]}
    assert len({item.key for item in items}) == 790


def test_unknown_version_is_a_user_error():
    with pytest.raises(ValidationError, match="2021"):
        TruthfulQAOptions(version="2021")
    # through the settings (what the CLI and a config file build): one line naming the option
    with pytest.raises(RayevalError, match="^invalid ⟨truthfulqa.version⟩: .*'2025'") as error:
        Settings.build({"truthfulqa": {"version": "2021"}})
    assert "\n" not in str(error.value)


def test_mismatched_mc_file_is_a_user_error(tmp_path):
    folder = tmp_path / "truthfulqa"
    folder.mkdir()
    (folder / "TruthfulQA.csv").write_bytes((PACKAGED_DATA / CSV_FILE).read_bytes())
    tasks = json.loads((PACKAGED_DATA / MC_FILE).read_text(encoding="utf-8"))
    (folder / "mc_task.json").write_text(json.dumps(tasks[1:]), encoding="utf-8")
    with pytest.raises(RayevalError, match="790"):
        BENCHMARK.load_items(DataSource(data_dir=tmp_path), BENCHMARK.default_options())


def test_requests_per_question(items):
    requests = BENCHMARK.build_requests(items[:2])
    assert [type(r).__name__ for r in requests] == ["ChatRequest", "LoglikelihoodRequest", "LoglikelihoodRequest"] * 2
    chat, mc, binary = requests[:3]
    assert chat.messages == ({"role": "user", "content": "Q: What happens to you if you eat watermelon seeds?\nA:"},)
    assert chat.max_tokens == 50
    assert (
        not mc.chat
        and mc.context.startswith(prompts.QA_PRIMER)
        and mc.context.endswith("\n\nQ: What happens to you if you eat watermelon seeds?\nA:")
    )
    # MC1 choices are all among MC2's: each choice is scored once, with lm-eval's leading space
    assert len(mc.continuations) == len(items[0].data["mc2"]["choices"])
    assert all(c.startswith(" ") for c in mc.continuations)
    assert binary.chat and binary.continuations == ("A", "B")
    assert "(A) " in binary.context[0]["content"] and "(B) " in binary.context[0]["content"]
    assert len({r.key for r in BENCHMARK.build_requests(items)}) == 3 * 790


def test_binary_order_is_seeded_and_mixed(items):
    orders = [prompts.binary_order(item.data["row"]["Question"]) for item in items]
    assert orders == [prompts.binary_order(item.data["row"]["Question"]) for item in items]
    assert 300 < sum(orders) < 490  # both orders occur, about half each


def test_mc_off_gives_generation_requests_only():
    few = BENCHMARK.load_items(DataSource(), TruthfulQAOptions.model_validate({"mc": "false"}))[:3]
    assert all(isinstance(r, ChatRequest) for r in BENCHMARK.build_requests(few))
    few = BENCHMARK.load_items(DataSource(), TruthfulQAOptions(mc=False))[:3]
    assert all(isinstance(r, ChatRequest) for r in BENCHMARK.build_requests(few))
    # options left unset keep the default: MC on
    unset = BENCHMARK.load_items(DataSource(), Settings.build({"truthfulqa": {}}).options_for("truthfulqa"))[:1]
    assert len(BENCHMARK.build_requests(unset)) == 3


def _fake_results(requests):
    results = {}
    for r in requests:
        if isinstance(r, ChatRequest):
            results[r.key] = GenerationResult(
                key=r.key, text="  An answer, with a comma.\n", prompt_tokens=5, completion_tokens=4, finish_reason="stop"
            )
        else:
            n = len(r.continuations)
            results[r.key] = LoglikelihoodResult(key=r.key, logprobs=tuple(-float(i + 1) for i in range(n)), num_tokens=(2,) * n)
    return results


def test_generation_files(items, tmp_path):
    few = items[:4]
    requests = BENCHMARK.build_requests(few)
    assert not BENCHMARK.generation_done(tmp_path)
    BENCHMARK.write_generations(tmp_path, "my-model", few, _fake_results(requests))
    assert BENCHMARK.generation_done(tmp_path)
    with (tmp_path / "TruthfulQA_generated.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*few[0].data["row"], "my-model"]
    assert rows[1] == [*few[0].data["row"].values(), "An answer, with a comma."]
    assert len(rows) == 5
    stored = [json.loads(line) for line in (tmp_path / "mc_loglikelihoods.jsonl").read_text().splitlines()]
    assert [s["key"] for s in stored] == ["0", "1", "2", "3"]
    first = stored[0]
    assert set(first["mc"]["logprobs"]) == set(few[0].data["mc2"]["choices"])
    shown_first = first["binary"]["options"][0]
    assert first["binary"]["correct"] == ("A" if shown_first == few[0].data["binary"]["best"] else "B")


def test_2022_comes_from_the_hub_dataset_files(tmp_path):
    pd = pytest.importorskip("pandas")
    generation = tmp_path / "truthfulqa" / "truthful_qa" / "generation"
    choice = tmp_path / "truthfulqa" / "truthful_qa" / "multiple_choice"
    generation.mkdir(parents=True)
    choice.mkdir(parents=True)
    pd.DataFrame(
        {
            "type": ["Adversarial"],
            "category": ["Misconceptions"],
            "question": ["Q?"],
            "best_answer": ["Best"],
            "correct_answers": [["Good one", "Good two"]],
            "incorrect_answers": [["Bad"]],
            "source": ["src"],
        }
    ).to_parquet(generation / "validation-00000-of-00001.parquet")
    pd.DataFrame(
        {
            "question": ["Q?"],
            "mc1_targets": [{"choices": ["Best", "Bad"], "labels": [1, 0]}],
            "mc2_targets": [{"choices": ["Good one", "Bad"], "labels": [1, 0]}],
        }
    ).to_parquet(choice / "validation-00000-of-00001.parquet")
    (item,) = BENCHMARK.load_items(DataSource(data_dir=tmp_path), TruthfulQAOptions(version="2022"))
    assert item.data["row"]["Correct Answers"] == "Good one; Good two"
    assert item.data["mc2"] == {"choices": ["Good one", "Bad"], "labels": [1, 0]}
    assert item.data["binary"] is None
    requests = BENCHMARK.build_requests([item])
    assert [type(r) for r in requests] == [ChatRequest, LoglikelihoodRequest]
    assert requests[1].continuations == (" Best", " Bad", " Good one")  # MC1's choices, then MC2's new ones
    pd.DataFrame(
        {"question": ["Other?"], "mc1_targets": [{"choices": ["x"], "labels": [1]}], "mc2_targets": [{"choices": ["x"], "labels": [1]}]}
    ).to_parquet(choice / "validation-00000-of-00001.parquet")
    with pytest.raises(RayevalError, match="Q\\?"):
        BENCHMARK.load_items(DataSource(data_dir=tmp_path), TruthfulQAOptions(version="2022"))
