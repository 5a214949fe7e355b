"""IFEval (Zhou et al., 2023): 541 prompts with verifiable instructions.

Generation writes `ifeval/candidate_outputs.jsonl` (`{"prompt", "response"}` per line, input
order), the format of the official `instruction_following_eval` scorer. Scoring is the
clean-room scorer in `rayeval.scoring.ifeval`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, Score
from rayeval.data import DataSource, HubFile
from rayeval.requests import ChatRequest, Request, Result
from rayeval.store import atomic_write_jsonl, read_jsonl

INPUT_FILE = "ifeval/input_data.jsonl"
HUB_FILE = HubFile(repo_id="google/IFEval", filename="ifeval_input_data.jsonl")
CANDIDATES = "candidate_outputs.jsonl"


def load_ifeval_inputs(data: DataSource) -> list[dict[str, Any]]:
    """The IFEval input rows (`key`, `prompt`, `instruction_id_list`, `kwargs`) in file order."""
    return read_jsonl(data.find(INPUT_FILE, HUB_FILE))


class IFEval(Benchmark):
    name = "ifeval"
    results_dirname = "ifeval"
    default_max_tokens = 1280

    def load_items(self, data: DataSource, options: dict[str, Any]) -> list[Item]:
        return [Item(key=str(row["key"]), data=row) for row in load_ifeval_inputs(data)]

    def build_requests(self, items: list[Item]) -> list[Request]:
        return [
            ChatRequest(key=item.key, messages=({"role": "user", "content": item.data["prompt"]},), max_tokens=self.default_max_tokens)
            for item in items
        ]

    def generation_files(self) -> list[str]:
        return [CANDIDATES]

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        atomic_write_jsonl(
            out_dir / CANDIDATES,
            ({"prompt": item.data["prompt"], "response": results[item.key].text} for item in items),
        )

    def evaluate(self, ctx: EvalContext) -> list[Score]:
        from rayeval.scoring.ifeval.evaluate import evaluate_ifeval

        return evaluate_ifeval(ctx)


BENCHMARK = IFEval()
