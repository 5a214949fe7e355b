"""`rayeval evaluate -b ifeval`: score `candidate_outputs.jsonl` against the IFEval inputs.

Responses are matched to prompts by position: the generation writes one line per prompt in input
order. The official scorer matches by prompt text instead; that fails when the data's wording
changes after responses were generated (key 2785 of the reference GPT-4 responses was generated
for an older wording). Scoring such a response against the current instruction arguments is what
reproduces the published numbers, so a differing prompt text is only a warning here.

Writes, in the benchmark folder (atomically):
- `eval_results_strict.jsonl`, `eval_results_loose.jsonl`: one line per prompt, input order,
  `{"prompt", "response", "instruction_id_list", "follow_instruction_list",
  "follow_all_instructions"}` (the official scorer's output format);
- `metrics.json`: both modes' accuracies with counts, per instruction id and per category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import EvalContext, Score
from rayeval.benchmarks.ifeval.files import CANDIDATES, load_ifeval_inputs
from rayeval.benchmarks.ifeval.metrics import level_metrics
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_json, atomic_write_jsonl
from rayeval.scoring.instructions.following import follows_both

STRICT_RESULTS = "eval_results_strict.jsonl"
LOOSE_RESULTS = "eval_results_loose.jsonl"
METRICS = "metrics.json"
_LISTED = 5
"""How many keys a warning names before it says "and N more"."""


@dataclass(frozen=True)
class Candidate:
    """One response line: where it is, the prompt it claims to answer, the response text."""

    line: int
    prompt: str
    response: str


def read_candidates(path: Path) -> list[Candidate]:
    """The non-blank lines of a responses file; a malformed line is a RayevalError naming it.
    A missing or null `response` reads as the empty response."""
    if not path.is_file():
        raise RayevalError(f"{path} is missing: run `rayeval generate -b ifeval` for this model first")
    candidates = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RayevalError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or regenerate that line") from exc
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise RayevalError(f'{path}:{number}: expected an object with a string "prompt"; fix or regenerate that line')
            response = row.get("response")
            if response is not None and not isinstance(response, str):
                raise RayevalError(f'{path}:{number}: "response" must be a string, not {type(response).__name__}')
            candidates.append(Candidate(number, row["prompt"], response or ""))
    return candidates


def _check_count(path: Path, candidates: list[Candidate], inputs: list[dict[str, Any]]) -> None:
    """Fewer or more responses than prompts is an error naming the first line out of place."""
    if len(candidates) == len(inputs):
        return
    for index, (candidate, row) in enumerate(zip(candidates, inputs)):
        if candidate.prompt != row["prompt"]:
            what = (
                "a response is missing before this line"
                if len(candidates) < len(inputs)
                else "this line or one before it is an extra response"
            )
            raise RayevalError(
                f"{path}:{candidate.line}: {len(candidates)} responses for {len(inputs)} IFEval prompts, and this line "
                f"does not answer prompt {index + 1} (key {row['key']}): {what}; regenerate the file"
            )
    if len(candidates) < len(inputs):
        after = candidates[-1].line if candidates else 0
        raise RayevalError(
            f"{path}:{after + 1}: {len(candidates)} responses for {len(inputs)} IFEval prompts: the responses from "
            f"prompt {len(candidates) + 1} (key {inputs[len(candidates)]['key']}) on are missing; regenerate the file"
        )
    raise RayevalError(
        f"{path}:{candidates[len(inputs)].line}: extra response: the file has {len(candidates)} responses for "
        f"{len(inputs)} IFEval prompts; regenerate the file or delete the extra lines"
    )


def _keys(rows: list[dict[str, Any]]) -> str:
    keys = ", ".join(str(row["key"]) for row in rows[:_LISTED])
    return keys + (f" and {len(rows) - _LISTED} more" if len(rows) > _LISTED else "")


def match_responses(path: Path, inputs: list[dict[str, Any]], ctx: EvalContext[Any]) -> list[str]:
    """The response to each input row, by position, with the warnings the user needs."""
    candidates = read_candidates(path)
    _check_count(path, candidates, inputs)
    differing = [row for row, candidate in zip(inputs, candidates) if candidate.prompt != row["prompt"]]
    if differing:
        ctx.warn(
            f"{len(differing)} response line(s) of {path.name} carry a prompt text that differs from the IFEval data "
            f"(keys {_keys(differing)}); they are scored by position against the data's instructions"
        )
    empty = [row for row, candidate in zip(inputs, candidates) if not candidate.response.strip()]
    if empty:
        ctx.warn(f"{len(empty)} IFEval prompt(s) have an empty response (keys {_keys(empty)}); scored as not followed")
    return [candidate.response for candidate in candidates]


def _result_row(row: dict[str, Any], response: str, followed: list[bool]) -> dict[str, Any]:
    return {
        "prompt": row["prompt"],
        "response": response,
        "instruction_id_list": row["instruction_id_list"],
        "follow_instruction_list": followed,
        "follow_all_instructions": all(followed),
    }


def score_rows(inputs: list[dict[str, Any]], responses: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Strict and loose eval-result rows, in input order."""
    strict_rows, loose_rows = [], []
    for row, response in zip(inputs, responses):
        try:
            strict, loose = follows_both(response, row["instruction_id_list"], row["kwargs"])
        except ValueError as exc:
            raise RayevalError(f"IFEval data, key {row['key']}: {exc}; fix the data file") from exc
        strict_rows.append(_result_row(row, response, strict))
        loose_rows.append(_result_row(row, response, loose))
    return strict_rows, loose_rows


def evaluate_ifeval(ctx: EvalContext[Any]) -> list[Score]:
    """Score `ctx.out_dir/candidate_outputs.jsonl`, write the result files, return the four
    official metrics as fractions."""
    inputs = load_ifeval_inputs(ctx.data)[: ctx.limit]
    responses = match_responses(ctx.out_dir / CANDIDATES, inputs, ctx)
    strict_rows, loose_rows = score_rows(inputs, responses)
    strict, loose = level_metrics(strict_rows), level_metrics(loose_rows)
    atomic_write_jsonl(ctx.out_dir / STRICT_RESULTS, strict_rows)
    atomic_write_jsonl(ctx.out_dir / LOOSE_RESULTS, loose_rows)
    atomic_write_json(
        ctx.out_dir / METRICS,
        {
            "prompts": len(inputs),
            "empty_responses": sum(1 for response in responses if not response.strip()),
            "strict": strict,
            "loose": loose,
        },
    )
    return [
        Score("prompt_level_strict_acc", strict["prompt_level_acc"]),
        Score("inst_level_strict_acc", strict["inst_level_acc"]),
        Score("prompt_level_loose_acc", loose["prompt_level_acc"]),
        Score("inst_level_loose_acc", loose["inst_level_acc"]),
    ]
