"""`evaluate_ifeval` on a small hand-made IFEval data folder: result files, metrics, and the
errors and warnings for broken response files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.ifeval.scoring import evaluate_ifeval
from rayeval.data import DataSource
from rayeval.errors import RayevalError
from rayeval.files import read_jsonl
from rayeval.options import NoOptions

INPUTS = [
    {"key": 1, "prompt": "Say hi without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    {
        "key": 2,
        "prompt": "Two bullets, all lowercase.",
        "instruction_id_list": ["detectable_format:number_bullet_lists", "punctuation:no_comma"],
        "kwargs": [{"num_bullets": 2}, {"num_words": None}],
    },
    {"key": 3, "prompt": "Wrap in quotes.", "instruction_id_list": ["startend:quotation"], "kwargs": [{}]},
]


def _context(tmp_path: Path, lines: list[str]) -> EvalContext:
    data_dir = tmp_path / "data"
    (data_dir / "ifeval").mkdir(parents=True)
    (data_dir / "ifeval" / "input_data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in INPUTS))
    out_dir = tmp_path / "results" / "m" / "ifeval"
    out_dir.mkdir(parents=True)
    (out_dir / "candidate_outputs.jsonl").write_text("".join(line + "\n" for line in lines))
    return EvalContext(model_id="m", out_dir=out_dir, data=DataSource(data_dir=data_dir), options=NoOptions())


def _line(prompt: str, response: str | None) -> str:
    return json.dumps({"prompt": prompt, "response": response})


def test_scores_result_files_and_metrics(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        [
            _line(INPUTS[0]["prompt"], "Hi there"),
            _line(INPUTS[1]["prompt"], "Intro\n* one, two\n* three\nEnd"),
            _line(INPUTS[2]["prompt"], '**"quoted"**'),
        ],
    )
    scores = {score.metric: score.value for score in evaluate_ifeval(ctx)}
    assert scores == {
        "prompt_level_strict_acc": 1 / 3,
        "inst_level_strict_acc": 2 / 4,
        "prompt_level_loose_acc": 2 / 3,
        "inst_level_loose_acc": 3 / 4,
    }
    strict = read_jsonl(ctx.out_dir / "eval_results_strict.jsonl")
    loose = read_jsonl(ctx.out_dir / "eval_results_loose.jsonl")
    assert [row["follow_instruction_list"] for row in strict] == [[True], [True, False], [False]]
    assert [row["follow_instruction_list"] for row in loose] == [[True], [True, False], [True]]
    assert strict[1] == {
        "prompt": INPUTS[1]["prompt"],
        "response": "Intro\n* one, two\n* three\nEnd",
        "instruction_id_list": INPUTS[1]["instruction_id_list"],
        "follow_instruction_list": [True, False],
        "follow_all_instructions": False,
    }
    metrics = json.loads((ctx.out_dir / "metrics.json").read_text())
    assert metrics["strict"]["per_instruction"]["punctuation:no_comma"] == {"accuracy": 0.5, "followed": 1, "total": 2}
    assert metrics["loose"]["per_category"]["startend"] == {"accuracy": 1.0, "followed": 1, "total": 1}
    assert metrics["strict"]["prompts_followed"] == 1 and metrics["loose"]["instructions_total"] == 4
    assert ctx.warnings == []


def test_empty_or_missing_response_is_not_followed_and_warned(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        [
            _line(INPUTS[0]["prompt"], ""),
            json.dumps({"prompt": INPUTS[1]["prompt"]}),
            _line(INPUTS[2]["prompt"], '"ok"'),
        ],
    )
    scores = {score.metric: score.value for score in evaluate_ifeval(ctx)}
    assert scores["prompt_level_loose_acc"] == 1 / 3
    assert len(ctx.warnings) == 1 and "2 IFEval prompt(s) have an empty response (keys 1, 2)" in ctx.warnings[0]
    assert json.loads((ctx.out_dir / "metrics.json").read_text())["empty_responses"] == 2


def test_changed_prompt_text_is_scored_by_position_with_a_warning(tmp_path: Path) -> None:
    ctx = _context(tmp_path, [_line("Old wording.", "Hi"), _line(INPUTS[1]["prompt"], "x"), _line(INPUTS[2]["prompt"], '"x"')])
    scores = {score.metric: score.value for score in evaluate_ifeval(ctx)}
    assert scores["prompt_level_strict_acc"] == 2 / 3
    assert len(ctx.warnings) == 1 and "keys 1" in ctx.warnings[0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [_line(INPUTS[0]["prompt"], "a"), _line(INPUTS[1]["prompt"], "b")],
            r"candidate_outputs.jsonl:3: 2 responses for 3 IFEval prompts.*key 3",
        ),
        (
            [_line(INPUTS[0]["prompt"], "a"), _line(INPUTS[2]["prompt"], "c")],
            r"candidate_outputs.jsonl:2: .*prompt 2 \(key 2\).*missing before this line",
        ),
        (
            [_line(row["prompt"], "r") for row in INPUTS] + [_line("extra", "r")],
            r"candidate_outputs.jsonl:4: extra response",
        ),
        (
            [_line(INPUTS[0]["prompt"], "a"), _line("extra", "r")] + [_line(row["prompt"], "r") for row in INPUTS[1:]],
            r"candidate_outputs.jsonl:2: .*prompt 2 \(key 2\).*extra response",
        ),
        ([_line(INPUTS[0]["prompt"], "a"), "{not json", _line(INPUTS[2]["prompt"], "c")], r"candidate_outputs.jsonl:2: not valid JSON"),
        (
            [_line(INPUTS[0]["prompt"], "a"), json.dumps(["list"]), _line(INPUTS[2]["prompt"], "c")],
            r"candidate_outputs.jsonl:2: expected an object",
        ),
        (
            [_line(INPUTS[0]["prompt"], "a"), json.dumps({"prompt": "p", "response": 3}), _line(INPUTS[2]["prompt"], "c")],
            r"candidate_outputs.jsonl:2: \"response\" must be a string",
        ),
    ],
    ids=["missing-at-end", "missing-in-middle", "extra", "extra-in-middle", "bad-json", "not-an-object", "bad-response"],
)
def test_broken_response_files_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    ctx = _context(tmp_path, lines)
    with pytest.raises(RayevalError, match=message):
        evaluate_ifeval(ctx)
    assert not (ctx.out_dir / "eval_results_strict.jsonl").exists()


def test_missing_responses_file_says_to_generate(tmp_path: Path) -> None:
    ctx = _context(tmp_path, [])
    (ctx.out_dir / "candidate_outputs.jsonl").unlink()
    with pytest.raises(RayevalError, match="rayeval generate"):
        evaluate_ifeval(ctx)
