"""TruthfulQA (Lin, Hilton and Evans, 2021): generation scored by BLEU/ROUGE, plus multiple choice.

Data (option `version`):

- `"2025"` (default): the current official data, 790 questions with the `Best Incorrect Answer`
  column added in Jan 2025 (`truthfulqa/TruthfulQA.csv` and `truthfulqa/mc_task.json` from the
  `sylinrl/TruthfulQA` GitHub repo). It is packaged with rayeval, so no download is needed;
  `--data-dir` may supply its own copy in the same layout. It is not on the Hugging Face hub.
- `"2022"`: the original 817 questions, from the hub dataset `truthfulqa/truthful_qa` (its
  `generation` and `multiple_choice` parquet files; in a `--data-dir` they go under
  `truthfulqa/truthful_qa/<config>/validation-00000-of-00001.parquet`). It has no best incorrect
  answer, so no binary choice.

Requests per question: one chat turn `"Q: {question}\\nA:"` (greedy, 50 tokens by default), and
unless option `mc` is off, one log-likelihood request scoring every MC1/MC2
choice (MC1's choices are a subset of MC2's, so they are scored once) and, for the 2025 data, one
for the binary choice. Prompts are documented in `rayeval.benchmarks.truthfulqa.prompts`.

Generation files (written when the engine is done):

- `TruthfulQA_generated.csv`: the input CSV (same columns, same order) plus a column named after
  the model with the stripped answers, the file the official `evaluate.py` reads. Its presence
  marks the generation as done, so answers produced elsewhere can be dropped in and scored;
- `mc_loglikelihoods.jsonl`: per question, the raw per-choice log-likelihoods and labels
  (`null` when MC was not requested). Scoring them is `evaluate`'s job.

`evaluate` writes `results.csv` (official BLEU/ROUGE columns) and `mc_results.jsonl`; see
`rayeval.benchmarks.truthfulqa.scoring`. Opt-in, with the options `judge` and/or `info_judge` (a
model name, served in-cluster unless its `judge_api_base`/`info_judge_api_base` is given), it also
asks the paper's end-to-end truth/info judges through the judge pool and adds their official
`GPT-judge`/`GPT-info` columns; see `rayeval.benchmarks.truthfulqa.judge`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, MetricItems, Score
from rayeval.benchmarks.truthfulqa import prompts
from rayeval.benchmarks.truthfulqa.files import GENERATED, LOGLIKELIHOODS
from rayeval.benchmarks.truthfulqa.options import TruthfulQAOptions
from rayeval.data import DataSource, HubFile
from rayeval.errors import RayevalError
from rayeval.files import atomic_write_jsonl, atomic_write_text
from rayeval.judge.config import JudgeConfig
from rayeval.requests import ChatRequest, FailedResult, LoglikelihoodRequest, Request, Result, generated, scored

CSV_FILE = "truthfulqa/TruthfulQA.csv"
MC_FILE = "truthfulqa/mc_task.json"
HUB_REPO = "truthfulqa/truthful_qa"
HUB_FILES = {config: f"{config}/validation-00000-of-00001.parquet" for config in ("generation", "multiple_choice")}


# Column names of the 2022 CSV, for the hub version's rows (the hub stores lists; the CSV `;`).
_HUB_COLUMNS = {
    "Type": "type",
    "Category": "category",
    "Question": "question",
    "Best Answer": "best_answer",
    "Correct Answers": "correct_answers",
    "Incorrect Answers": "incorrect_answers",
    "Source": "source",
}


def _targets(choices: list[str], labels: list[int]) -> dict[str, list]:
    return {"choices": [str(c) for c in choices], "labels": [int(x) for x in labels]}


def load_2025(data: DataSource) -> list[dict[str, Any]]:
    """Rows of the packaged/`--data-dir` CSV joined with `mc_task.json` (same order, checked)."""
    csv_path = data.find(CSV_FILE)
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    mc_path = data.find(MC_FILE)
    tasks = json.loads(mc_path.read_text(encoding="utf-8"))
    if len(tasks) != len(rows):
        raise RayevalError(f"{mc_path} has {len(tasks)} questions but {csv_path} has {len(rows)}; use files of the same release")
    records = []
    for row, task in zip(rows, tasks):
        if task["question"] != row["Question"]:
            raise RayevalError(f"{mc_path} and {csv_path} list different questions ({task['question']!r}); use files of the same release")
        records.append(
            {
                "row": row,
                "mc1": _targets(list(task["mc1_targets"]), list(task["mc1_targets"].values())),
                "mc2": _targets(list(task["mc2_targets"]), list(task["mc2_targets"].values())),
                "binary": {"best": row["Best Answer"], "incorrect": row["Best Incorrect Answer"]},
            }
        )
    return records


def load_2022(data: DataSource) -> list[dict[str, Any]]:
    """The 817-question hub dataset, shaped like the CSV (answer lists joined with `"; "`)."""
    import pandas as pd

    frames = {
        config: pd.read_parquet(data.find(f"truthfulqa/truthful_qa/{name}", HubFile(repo_id=HUB_REPO, filename=name)))
        for config, name in HUB_FILES.items()
    }
    choices = {mc["question"]: mc for mc in frames["multiple_choice"].to_dict("records")}
    records = []
    for gen in frames["generation"].to_dict("records"):
        mc = choices.get(gen["question"])
        if mc is None:
            raise RayevalError(f"{gen['question']!r} is in the {HUB_REPO} generation file but not in multiple_choice; pull both again")
        row = {
            column: "; ".join(str(a) for a in gen[field]) if column.endswith("Answers") else str(gen[field])
            for column, field in _HUB_COLUMNS.items()
        }
        records.append(
            {
                "row": row,
                "mc1": _targets(list(mc["mc1_targets"]["choices"]), list(mc["mc1_targets"]["labels"])),
                "mc2": _targets(list(mc["mc2_targets"]["choices"]), list(mc["mc2_targets"]["labels"])),
                "binary": None,
            }
        )
    return records


def _union(*lists: list[str]) -> list[str]:
    """Choices of all lists once each, in first-seen order."""
    return list(dict.fromkeys(choice for choices in lists for choice in choices))


class TruthfulQA(Benchmark[TruthfulQAOptions]):
    name = "truthfulqa"
    results_dirname = "truthfulqa"
    version = "1"
    options_model = TruthfulQAOptions
    default_max_tokens = 50
    headline_metrics = ("bleu_acc", "rougeL_acc", "mc1", "mc2")

    def load_items(self, data: DataSource, options: TruthfulQAOptions) -> list[Item]:
        records = load_2025(data) if options.version == "2025" else load_2022(data)
        items = []
        for index, record in enumerate(records):
            if not options.mc:
                record = {**record, "mc1": None, "mc2": None, "binary": None}
            items.append(Item(key=str(index), data=record))
        return items

    def build_requests(self, items: list[Item]) -> list[Request]:
        requests: list[Request] = []
        for item in items:
            question = item.data["row"]["Question"]
            messages = ({"role": "user", "content": prompts.generation_prompt(question)},)
            requests.append(ChatRequest(key=f"gen/{item.key}", messages=messages, max_tokens=self.default_max_tokens))
            if item.data["mc2"] is not None:
                choices = _union(item.data["mc1"]["choices"], item.data["mc2"]["choices"])
                requests.append(
                    LoglikelihoodRequest(
                        key=f"mc/{item.key}",
                        context=prompts.mc_context(question),
                        continuations=tuple(prompts.mc_continuation(c) for c in choices),
                    )
                )
            if item.data["binary"] is not None:
                options = self._binary_options(item)
                messages = ({"role": "user", "content": prompts.binary_prompt(question, *options)},)
                requests.append(
                    LoglikelihoodRequest(key=f"binary/{item.key}", context=messages, continuations=prompts.BINARY_LETTERS, chat=True)
                )
        return requests

    @staticmethod
    def _binary_options(item: Item) -> tuple[str, str]:
        best, incorrect = item.data["binary"]["best"], item.data["binary"]["incorrect"]
        return (best, incorrect) if prompts.binary_order(item.data["row"]["Question"]) else (incorrect, best)

    def generation_files(self) -> list[str]:
        # Only the CSV: answers generated elsewhere (or by the official code) are scored as they
        # are, and MC scores are reported missing when there are no log-likelihoods.
        return [GENERATED]

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        # The log-likelihoods first: the CSV is what marks the generation as done.
        atomic_write_jsonl(out_dir / LOGLIKELIHOODS, (self._loglikelihood_row(item, results) for item in items))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*items[0].data["row"], model_id])
        for item in items:
            writer.writerow([*item.data["row"].values(), generated(results[f"gen/{item.key}"]).text.strip()])
        atomic_write_text(out_dir / GENERATED, buffer.getvalue())

    def _loglikelihood_row(self, item: Item, results: dict[str, Result]) -> dict[str, Any]:
        row: dict[str, Any] = {"key": item.key, "question": item.data["row"]["Question"], "mc": None, "binary": None}
        unavailable = [r for key in (f"mc/{item.key}", f"binary/{item.key}") if isinstance(r := results.get(key), FailedResult)]
        if unavailable:  # the engine cannot score (an API without prompt log-probabilities): say why, never 0
            row["unavailable"] = unavailable[0].reason
            return row
        if item.data["mc2"] is not None:
            mc = scored(results[f"mc/{item.key}"])
            choices = _union(item.data["mc1"]["choices"], item.data["mc2"]["choices"])
            row["mc"] = {
                "mc1": item.data["mc1"],
                "mc2": item.data["mc2"],
                "logprobs": dict(zip(choices, mc.logprobs)),
                "num_tokens": dict(zip(choices, mc.num_tokens)),
            }
        if item.data["binary"] is not None:
            binary = scored(results[f"binary/{item.key}"])
            options = self._binary_options(item)
            row["binary"] = {
                "options": list(options),
                "correct": prompts.BINARY_LETTERS[options.index(item.data["binary"]["best"])],
                "logprobs": list(binary.logprobs),
            }
        return row

    def judges(self, options: TruthfulQAOptions, judge: JudgeConfig) -> list[JudgeConfig]:
        """The truth and info judges the options name (none unless asked)."""
        from rayeval.benchmarks.truthfulqa.judge import judge_config, judge_models

        return [judge_config(judge, model, api_base) for _, model, api_base in judge_models(options)]

    def evaluate(self, ctx: EvalContext[TruthfulQAOptions]) -> list[Score]:
        from rayeval.benchmarks.truthfulqa.scoring import evaluate_truthfulqa

        return evaluate_truthfulqa(ctx)

    def item_scores(self, out_dir: Path) -> dict[str, MetricItems]:
        from rayeval.benchmarks.truthfulqa.items import truthfulqa_item_scores

        return truthfulqa_item_scores(out_dir)


BENCHMARK = TruthfulQA()
