"""Time rayeval's TruthfulQA BLEU/ROUGE scoring of 790 answers (target: under 30 s; the official
t5-based scorer takes about 10 minutes for the same work on these machines).

The answers are the 200 real SmolLM2 answers of ../shared/data/truthfulqa-reference repeated
over the 790 questions of the packaged data (each question keeps its own references), so the
work per answer is realistic. Run: `.venv/bin/python bench/bench_truthfulqa_scoring.py [--quick] [--json PATH]`
(--quick changes nothing: one scoring run is the measurement).
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

from _table import Row, add_table_arguments, emit

from rayeval.benchmarks.base import EvalContext
from rayeval.benchmarks.truthfulqa.options import TruthfulQAOptions
from rayeval.benchmarks.truthfulqa.spec import BENCHMARK
from rayeval.data import DataSource

MODEL = "bench-model"
TARGET_SECONDS = 30.0
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "truthfulqa-reference" / "answers.csv"


def write_generated(folder: Path) -> int:
    items = BENCHMARK.load_items(DataSource(), TruthfulQAOptions(mc=False))
    with REFERENCE.open(encoding="utf-8", newline="") as handle:
        answers = [row["smollm2-sys"] for row in csv.DictReader(handle)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*items[0].data["row"], MODEL])
    for index, item in enumerate(items):
        writer.writerow([*item.data["row"].values(), answers[index % len(answers)]])
    (folder / "TruthfulQA_generated.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_table_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        count = write_generated(folder)
        start = time.perf_counter()
        scores = BENCHMARK.evaluate(EvalContext(model_id=MODEL, out_dir=folder, data=DataSource(), options=TruthfulQAOptions(mc=False)))
        elapsed = time.perf_counter() - start
    print(f"scored {count} answers (BLEU, ROUGE-1/2/L against every reference) in {elapsed:.1f} s")
    for score in scores:
        print(f"  {score.metric:12s} {score.value:.4f}")
    emit(
        [Row.at_most(f"TruthfulQA BLEU/ROUGE scoring, {count} answers (wall)", f"{elapsed:.1f} s", elapsed, TARGET_SECONDS, unit=" s")],
        args,
    )


if __name__ == "__main__":
    main()
