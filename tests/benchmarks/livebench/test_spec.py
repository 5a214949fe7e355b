"""The LiveBench plugin: question selection, answer files, judgments and summary, and the
scoring pool's timeouts. Uses small hand-made question files in the official format."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.livebench.options import LiveBenchOptions
from rayeval.benchmarks.livebench.pool import Job, Outcome, score_jobs
from rayeval.benchmarks.livebench.questions import in_release, selected_tasks
from rayeval.benchmarks.livebench.scoring import strip_thinking
from rayeval.benchmarks.livebench.spec import BENCHMARK
from rayeval.benchmarks.livebench.tasks import scorer_spec, task_categories
from rayeval.data import DataSource, HubFile
from rayeval.errors import RayevalError
from rayeval.requests import GenerationResult
from rayeval.settings import Settings
from rayeval.store import ResultStore


def _question(qid: str, task: str, category: str, truth: str, released: str = "2024-06-24", removed: str = "") -> dict:
    return {
        "question_id": qid,
        "category": category,
        "task": task,
        "turns": [f"question {qid}"],
        "ground_truth": truth,
        "livebench_release_date": released,
        "livebench_removal_date": removed,
    }


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    files = {
        ("data_analysis", "cta"): [
            _question("c1", "cta", "data_analysis", "id"),
            _question("c2", "cta", "data_analysis", "name"),
            _question("c3", "cta", "data_analysis", "date", released="2025-04-02"),
        ],
        ("reasoning", "web_of_lies_v2"): [
            _question("w1", "web_of_lies_v2", "reasoning", "yes, no, yes", removed="2024-11-25"),
            _question("w2", "web_of_lies_v2", "reasoning", "no, no, no"),
        ],
    }
    for (category, task), rows in files.items():
        path = root / "livebench" / category / task / "question.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return root


def test_release_rule() -> None:
    assert in_release({"livebench_release_date": "2024-06-24", "livebench_removal_date": ""}, "2024-11-25")
    assert not in_release({"livebench_release_date": "2025-04-02", "livebench_removal_date": ""}, "2024-11-25")
    assert not in_release({"livebench_release_date": "2024-06-24", "livebench_removal_date": "2024-11-25"}, "2024-11-25")
    assert in_release({"livebench_release_date": "2024-06-24", "livebench_removal_date": "2024-11-25"}, "2024-08-31")


def test_task_selection_by_category_or_task() -> None:
    assert ("math", "AMPS_Hard") in selected_tasks(["math"])
    assert selected_tasks(["typos", "cta"]) == [("data_analysis", "cta"), ("language", "typos")]
    with pytest.raises(RayevalError):
        selected_tasks(["nonsense"])


def test_every_task_has_a_scorer() -> None:
    assert sorted(task for _, task in selected_tasks(None)) == sorted(task_categories())


def test_load_items_applies_release_and_tasks(data_dir: Path) -> None:
    data = DataSource(data_dir=data_dir)
    keys = [item.key for item in BENCHMARK.load_items(data, BENCHMARK.default_options())]
    assert keys == ["c1", "c2", "w2"]  # default release 2024-11-25
    keys = [item.key for item in BENCHMARK.load_items(data, LiveBenchOptions(release="2024-08-31", tasks=["reasoning"]))]
    assert keys == ["w1", "w2"]
    with pytest.raises(RayevalError):
        BENCHMARK.load_items(data, LiveBenchOptions(tasks=["typos"]))  # asked for, but no data
    with pytest.raises(ValidationError, match="'soon' is not a date"):
        LiveBenchOptions(release="soon")
    with pytest.raises(RayevalError, match="^invalid ⟨livebench.release⟩: 'soon' is not a date"):
        Settings.build({"livebench": {"release": "soon"}})


def test_generation_files_and_answer_format(data_dir: Path, tmp_path: Path) -> None:
    items = BENCHMARK.load_items(DataSource(data_dir=data_dir), BENCHMARK.default_options())
    requests = BENCHMARK.build_requests(items)
    assert requests[0].messages == ({"role": "user", "content": "question c1"},)
    out_dir = tmp_path / "results" / "m" / "livebench"
    results = {item.key: GenerationResult(item.key, f"answer {item.key}", 10, 5, "stop") for item in reversed(items)}
    assert not BENCHMARK.generation_done(out_dir)
    BENCHMARK.write_generations(out_dir, "m", items, results)
    assert BENCHMARK.generation_done(out_dir)
    rows = [json.loads(line) for line in (out_dir / "data_analysis" / "cta" / "model_answer.jsonl").read_text().splitlines()]
    assert [row["question_id"] for row in rows] == ["c1", "c2"]
    assert rows[0]["choices"] == [{"index": 0, "turns": ["answer c1"]}]
    assert rows[0]["model_id"] == "m" and rows[0]["total_output_tokens"] == 5 and rows[0]["answer_id"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["data_analysis", "reasoning"]  # answer files only, no marker


def test_answer_files_from_elsewhere_are_a_finished_generation_unless_a_journal_is_left(tmp_path: Path) -> None:
    """Answer files put there by LiveBench's own gen_api_answer or by hand count as generated; a
    journal left by an unfinished rayeval generation means the files are not complete yet."""
    store = ResultStore(tmp_path / "results")
    out_dir = store.benchmark_dir("m", BENCHMARK.results_dirname)
    assert not store.generation_finished("m", BENCHMARK)
    _answers(out_dir / "math" / "AMPS_Hard" / "model_answer.jsonl", {"q1": "x"})
    assert store.generation_finished("m", BENCHMARK)
    store.save_shard("m", BENCHMARK.name, "shard-1", [GenerationResult("q1", "x", 1, 1, "stop")])
    assert not store.generation_finished("m", BENCHMARK)
    store.clear_journal("m", BENCHMARK.name)
    assert store.generation_finished("m", BENCHMARK)


def _answers(path: Path, answers: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"question_id": qid, "answer_id": f"a-{qid}", "model_id": "m", "choices": [{"index": 0, "turns": [text]}]}
        for qid, text in answers.items()
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_evaluate_writes_judgments_means_and_errors(data_dir: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "results" / "m" / "livebench"
    _answers(out_dir / "data_analysis" / "cta" / "model_answer.jsonl", {"c1": "<think>maybe name</think>id", "c2": r"\boxed{name"})
    _answers(out_dir / "reasoning" / "web_of_lies_v2" / "model_answer.jsonl", {"w2": "**no** **no** **no**", "w1": "yes, no, yes"})
    ctx = EvalContext(model_id="m", out_dir=out_dir, data=DataSource(data_dir=data_dir), options=LiveBenchOptions(workers=2))
    scores = {score.metric: score.value for score in BENCHMARK.evaluate(ctx)}

    judgments = [json.loads(line) for line in (out_dir / "data_analysis" / "cta" / "judgment.jsonl").read_text().splitlines()]
    assert [(row["question_id"], row["score"]) for row in judgments] == [("c1", 1), ("c2", None)]
    assert judgments[0]["answer_id"] == "a-c1" and judgments[0]["category"] == "data_analysis" and judgments[0]["model"] == "m"
    assert "error" in judgments[1] and "error" not in judgments[0]
    assert scores["task/cta"] == 100.0  # the failed answer is counted as an error, not as 0
    assert scores["task/web_of_lies_v2"] == 100.0  # w1 was removed in the default release
    assert scores["overall"] == 100.0 and scores["scoring_errors"] == 1.0
    summary = json.loads((out_dir / "scores.json").read_text())
    assert summary["tasks"]["cta"]["errors"] == 1 and summary["categories"] == {"data_analysis": 100.0, "reasoning": 100.0}
    assert any("outside release" in warning for warning in ctx.warnings)
    assert any("could not be scored" in warning for warning in ctx.warnings)


def test_category_is_mean_of_tasks_and_overall_mean_of_categories(data_dir: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "results" / "m" / "livebench"
    _answers(out_dir / "data_analysis" / "cta" / "model_answer.jsonl", {"c1": "id", "c2": "wrong"})
    _answers(out_dir / "reasoning" / "web_of_lies_v2" / "model_answer.jsonl", {"w2": "nothing"})
    ctx = EvalContext(model_id="m", out_dir=out_dir, data=DataSource(data_dir=data_dir), options=LiveBenchOptions(workers=1))
    scores = {score.metric: score.value for score in BENCHMARK.evaluate(ctx)}
    assert scores["category/data_analysis"] == 50.0 and scores["category/reasoning"] == 0.0
    assert scores["overall"] == 25.0


def test_strip_thinking_removes_closed_spans_only() -> None:
    assert strip_thinking("<think>a\nb</think>x<think>c</think>y") == "xy"
    assert strip_thinking("<think>unclosed x") == "<think>unclosed x"


SCORERS = textwrap.dedent(
    """
    import os, time

    def hang(question, answer):
        while True:
            time.sleep(0.05)

    def crash(question, answer):
        os._exit(3)

    def echo(question, answer):
        return float(answer)
    """
)


def test_pool_records_timeouts_and_crashes_and_keeps_going(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lb_test_scorers.py").write_text(SCORERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    jobs = [
        Job("hang", "lb_test_scorers:hang", {}, ""),
        Job("crash", "lb_test_scorers:crash", {}, ""),
        Job("bad", "lb_test_scorers:echo", {}, "not a number"),
    ] + [Job(f"ok{i}", "lb_test_scorers:echo", {}, str(i)) for i in range(4)]
    outcomes = score_jobs(jobs, workers=2, timeout=3.0)
    assert outcomes["hang"].score is None and "timed out" in outcomes["hang"].error
    assert outcomes["crash"].score is None and "died" in outcomes["crash"].error
    assert outcomes["bad"].score is None and "ValueError" in outcomes["bad"].error
    assert [outcomes[f"ok{i}"].score for i in range(4)] == [0.0, 1.0, 2.0, 3.0]


def test_pool_workers_start_with_the_scorers_libraries_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lb_test_probe.py").write_text(
        "import sys\n\ndef preloaded(question, answer):\n    return float({'sympy', 'pandas'} <= set(sys.modules))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    outcomes = score_jobs([Job("probe", "lb_test_probe:preloaded", {}, "")], workers=1, timeout=60.0)
    assert outcomes["probe"] == Outcome(score=1.0)  # forked from the fork server that imported them


def test_registry_names_the_other_helpers_modules() -> None:
    assert scorer_spec("typos") == "rayeval.benchmarks.livebench.scorers.language:score_typos"
    assert scorer_spec("LCB_generation") == "rayeval.benchmarks.livebench.scorers.coding:score_lcb_generation"
    assert scorer_spec("summarize") == "rayeval.benchmarks.livebench.scorers.instruction_following:score_instruction_following"
    with pytest.raises(KeyError):
        scorer_spec("house_traversal")


def test_hub_questions_come_from_the_category_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            **_question("h1", "spatial", "reasoning", "3"),
            "livebench_release_date": datetime.datetime(2024, 7, 26),
            "livebench_removal_date": None,
        },
        {
            **_question("h2", "spatial", "reasoning", "4"),
            "livebench_release_date": datetime.datetime(2025, 5, 30),
            "livebench_removal_date": None,
        },
        {
            **_question("h3", "zebra_puzzle", "reasoning", "a"),
            "livebench_release_date": datetime.datetime(2024, 6, 24),
            "livebench_removal_date": None,
        },
    ]
    parquet = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    asked = []

    def fake_download(self: DataSource, hub: HubFile) -> Path:
        asked.append(hub)
        if hub.repo_id != "livebench/reasoning":
            raise RayevalError("offline")
        return parquet

    monkeypatch.setattr(DataSource, "_download", fake_download)
    items = BENCHMARK.load_items(DataSource(cache_dir=tmp_path), LiveBenchOptions(tasks=["spatial", "zebra_puzzle"]))
    assert [(item.key, item.data["livebench_release_date"]) for item in items] == [("h1", "2024-07-26"), ("h3", "2024-06-24")]
    assert {(hub.repo_id, hub.filename) for hub in asked} == {("livebench/reasoning", "data/test-00000-of-00001.parquet")}
