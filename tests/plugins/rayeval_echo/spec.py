"""`echo`: N prompts "repeat <key>"; a response counts when it contains its prompt's key.

Written the way a third-party package would write a benchmark: its own options model, its own
files, registered under the `rayeval.benchmarks` entry-point group; nothing in rayeval names it.
"""

from __future__ import annotations

from pathlib import Path

from rayeval.benchmarks.base import Benchmark, EvalContext, Item, Score
from rayeval.data import DataSource
from rayeval.files import atomic_write_json, atomic_write_jsonl, read_jsonl
from rayeval.options import EVALUATE, GENERATE, OptionsModel, option
from rayeval.requests import ChatRequest, Request, Result

RESPONSES = "echo.jsonl"


class EchoOptions(OptionsModel):
    count: int = option(5, description="How many prompts.", phases=GENERATE, ge=1)
    needle_prefix: str = option("", description="Text the scorer expects before the key.", phases=EVALUATE)


class Echo(Benchmark[EchoOptions]):
    name = "echo"
    results_dirname = "echo"
    version = "1"
    options_model = EchoOptions
    default_max_tokens = 16

    def load_items(self, data: DataSource, options: EchoOptions) -> list[Item]:
        return [Item(key=f"e{i}", data={"prompt": f"repeat e{i}"}) for i in range(options.count)]

    def build_requests(self, items: list[Item]) -> list[Request]:
        return [
            ChatRequest(key=i.key, messages=({"role": "user", "content": i.data["prompt"]},), max_tokens=self.default_max_tokens)
            for i in items
        ]

    def generation_files(self) -> list[str]:
        return [RESPONSES]

    def write_generations(self, out_dir: Path, model_id: str, items: list[Item], results: dict[str, Result]) -> None:
        atomic_write_jsonl(out_dir / RESPONSES, ({"key": i.key, "response": results[i.key].text} for i in items))

    def evaluate(self, ctx: EvalContext[EchoOptions]) -> list[Score]:
        rows = read_jsonl(ctx.out_dir / RESPONSES)
        hits = [ctx.options.needle_prefix + row["key"] in row["response"] for row in rows]
        atomic_write_json(ctx.out_dir / "scores.json", {"hits": sum(hits), "n": len(hits)})
        return [Score("echo_rate", sum(hits) / len(hits))]


BENCHMARK = Echo()
