"""AlpacaEval 2 (Li et al., 2023; Dubois et al., 2024): 805 instructions judged against GPT-4 turbo.

Generation writes `alpacaeval2/model_outputs.json`, a JSON list of `{"instruction", "output",
"generator", "dataset"}` in eval-set order (the alpaca_eval package's input format).

Evaluation judges each (baseline, model) pair with the `alpaca-eval` package's own machinery:
its annotator configs and prompt templates (`weighted_alpaca_eval_gpt4_turbo` by default,
logprob-weighted; `alpaca_eval_gpt4_turbo_fn`, function calling, or any other config name via
option `annotator`), its per-instruction random order of the two outputs, its
parsers, its draw rule (identical outputs = 1.5, no call) and its handling of unparsable answers
(kept as records without a preference, left out of the counts). Only the transport is ours: the
annotator's completion function is swapped for the judge pool (rate limits, retries, cache,
in-cluster judge). The leaderboard numbers come from alpaca_eval's own metric functions.

Results in `alpacaeval2/`: `annotations.json` (alpaca_eval's records, eval-set order; a request
that failed after the last retry is a record with `preference: null` and `judge_error`) and
`leaderboard.csv`. Resume: records already in `annotations.json` for the same annotator and the
same outputs are reused, so recomputing from a complete file makes no judge call; failed ones
are retried. The length-controlled win rate needs the hub file `df_gamed.csv` of
`tatsu-lab/alpaca_eval` (instruction difficulties and the regularising baselines); without it
LC is left empty with a warning.
"""

from __future__ import annotations

from pathlib import Path

from rayeval.benchmarks.alpacaeval.files import ANNOTATIONS, GAMED, GAMED_HUB, MODEL_OUTPUTS, load_eval_set
from rayeval.benchmarks.alpacaeval.options import AlpacaEvalOptions
from rayeval.benchmarks.base import Benchmark, EvalContext, Item, MetricItems, Score
from rayeval.data import DataSource
from rayeval.files import atomic_write_json
from rayeval.judge.config import JudgeConfig
from rayeval.requests import ChatRequest, Request, Result, generated


class AlpacaEval(Benchmark[AlpacaEvalOptions]):
    name = "alpacaeval"
    results_dirname = "alpacaeval2"
    version = "1"
    options_model = AlpacaEvalOptions
    default_max_tokens = 2048
    headline_metrics = ("length_controlled_winrate", "win_rate")
    own_stderr = {"win_rate": "standard_error", "length_controlled_winrate": "lc_standard_error"}

    def load_items(self, data: DataSource, options: AlpacaEvalOptions) -> list[Item]:
        return [Item(key=str(index), data=row) for index, row in enumerate(load_eval_set(data))]

    def build_requests(self, items: list[Item]) -> list[Request]:
        return [
            ChatRequest(key=item.key, messages=({"role": "user", "content": item.data["instruction"]},), max_tokens=self.default_max_tokens)
            for item in items
        ]

    def generation_files(self) -> list[str]:
        return [MODEL_OUTPUTS]

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        atomic_write_json(
            out_dir / MODEL_OUTPUTS,
            [
                {
                    "instruction": item.data["instruction"],
                    "output": generated(results[item.key]).text,
                    "generator": model_id,
                    "dataset": item.data["dataset"],
                }
                for item in items
            ],
        )

    def generation_done(self, out_dir: Path) -> bool:
        """Outputs, or annotations alone (e.g. published ones): evaluate can score either."""
        return super().generation_done(out_dir) or (out_dir / ANNOTATIONS).is_file()

    def evaluate(self, ctx: EvalContext[AlpacaEvalOptions]) -> list[Score]:
        from rayeval.benchmarks.alpacaeval.scoring import evaluate_alpacaeval

        return evaluate_alpacaeval(ctx)

    def judges(self, options: AlpacaEvalOptions, judge: JudgeConfig) -> list[JudgeConfig]:
        """Every model is judged against the baseline by the job's judge."""
        return [judge]

    def pull(self, data: DataSource, options: AlpacaEvalOptions) -> None:
        """The eval set and the length-control data (`df_gamed.csv`)."""
        self.load_items(data, options)
        data.find(GAMED, GAMED_HUB)

    def item_scores(self, out_dir: Path) -> dict[str, MetricItems]:
        from rayeval.benchmarks.alpacaeval.items import alpacaeval_item_scores

        return alpacaeval_item_scores(out_dir)


BENCHMARK = AlpacaEval()
