"""Each benchmark's per-item scores aggregate to the summary rows its real scorer wrote, on the
shared reference outputs (reads ../shared through `results_fixture`)."""

from __future__ import annotations

import pytest
from report.results_fixture import QUALITY

from rayeval import benchmarks
from rayeval.report.stats import aggregate
from rayeval.store import ResultStore

EXPECTED_WITH_ITEMS = {
    "ifeval": {"prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc"},
    "truthfulqa": {f"{m}_{c}" for m in ("bleu", "rouge1", "rouge2", "rougeL") for c in ("max", "diff", "acc")},
    "alpacaeval": {"win_rate", "discrete_win_rate"},
    "livebench": {
        "overall",
        "category/reasoning",
        "category/data_analysis",
        "category/math",
        "task/web_of_lies_v2",
        "task/zebra_puzzle",
        "task/cta",
        "task/math_comp",
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED_WITH_ITEMS))
def test_items_reproduce_the_scorers_summary_rows(results: ResultStore, name: str) -> None:
    bench = benchmarks.get(name)
    for model_id in QUALITY:
        rows = {row["metric"]: row for row in results.read_scores(model_id) if row["benchmark"] == name}
        items = bench.item_scores(results.benchmark_dir(model_id, bench.results_dirname))
        summary_metrics = {metric for metric in items if metric in rows}
        assert summary_metrics == EXPECTED_WITH_ITEMS[name], model_id
        for metric in summary_metrics:
            # the scorers sum with statistics.mean or math.fsum: equal to the last bit or one rounding away
            assert aggregate(items[metric]) == pytest.approx(rows[metric]["value"], rel=1e-12, abs=0), (model_id, metric)
            row = rows[metric]
            assert row["ci_low"] <= row["value"] <= row["ci_high"], (model_id, metric)
            assert row["n"] == len(items[metric].values)


def test_ifeval_items_are_prompts_and_instruction_types(results: ResultStore) -> None:
    items = benchmarks.get("ifeval").item_scores(results.benchmark_dir("gpt-4-api", "ifeval"))
    assert len(items["inst_level_strict_acc"].values) == 541  # resampled by prompt
    assert sum(items["inst_level_strict_acc"].weights.values()) > 541  # type: ignore[union-attr]
    assert "instruction/punctuation:no_comma" in items


def test_summary_rows_carry_run_step_and_alpacaeval_keeps_its_own_stderr(results: ResultStore) -> None:
    rows = {(r["benchmark"], r["metric"]): r for r in results.read_scores("sft_checkpoint-200")}
    assert {(r["run"], r["step"], r["step_unit"]) for r in rows.values()} == {("sft", 200, "step")}
    assert rows[("alpacaeval", "win_rate")]["stderr"] == rows[("alpacaeval", "standard_error")]["value"]
    base = {(r["run"], r["step"]) for r in results.read_scores("SmolLM2-base")}
    assert base == {(None, None)}
