"""IFEval (Zhou et al., 2023): 541 prompts with verifiable instructions.

Generation writes `ifeval/candidate_outputs.jsonl` (`{"prompt", "response"}` per line, input
order), the format of the official `instruction_following_eval` scorer. Scoring
(`rayeval.benchmarks.ifeval.scoring`) uses the clean-room checkers in `rayeval.scoring.instructions`.
"""

from __future__ import annotations

from pathlib import Path

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, MetricItems, Score
from rayeval.benchmarks.ifeval.files import CANDIDATES, load_ifeval_inputs
from rayeval.data import DataSource
from rayeval.files import atomic_write_jsonl
from rayeval.options import NoOptions
from rayeval.requests import ChatRequest, Request, Result, generated


class IFEval(Benchmark[NoOptions]):
    name = "ifeval"
    results_dirname = "ifeval"
    version = "1"
    default_max_tokens = 1280
    headline_metrics = ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc")

    def load_items(self, data: DataSource, options: NoOptions) -> list[Item]:
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
            ({"prompt": item.data["prompt"], "response": generated(results[item.key]).text} for item in items),
        )

    def evaluate(self, ctx: EvalContext[NoOptions]) -> list[Score]:
        from rayeval.benchmarks.ifeval.scoring import evaluate_ifeval

        return evaluate_ifeval(ctx)

    def item_scores(self, out_dir: Path) -> dict[str, MetricItems]:
        from rayeval.benchmarks.ifeval.items import ifeval_item_scores

        return ifeval_item_scores(out_dir)


BENCHMARK = IFEval()
