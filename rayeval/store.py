"""The result store: the one place that knows the results layout and writes it atomically.

Layout (documented in README.md)::

    results/
      <model_id>/
        run.json                       manifest: model, settings, versions, data hashes, times
        <benchmark dir>/...            each benchmark's own files (ifeval/, truthfulqa/, ...)
        .journal/<benchmark>/<shard>.json   finished shards of an unfinished generation
      summaries/<model_id>_scores.jsonl     {"benchmark", "metric", "value", "n", "stderr", "ci_low", "ci_high", "run", "step"} rows
      report/                        `rayeval report`: report.md, report.csv, comparisons.csv, report.html, plots/*.png

Every file is written to a temporary name in the same folder, flushed, fsynced and renamed, so a
crash never leaves a half-written file under a final name. The journal records finished shards
so an interrupted run resumes without redoing them; it is deleted once the benchmark's final
files exist (they are then the record).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rayeval.errors import RayevalError
from rayeval.files import atomic_write_json, atomic_write_jsonl, atomic_write_text, read_jsonl
from rayeval.options import option_ref
from rayeval.requests import Result, result_from_dict, result_to_dict

if TYPE_CHECKING:
    from rayeval.benchmarks.base import Benchmark


class ResultStore:
    """Paths and atomic writes under one results root."""

    JOURNAL = ".journal"
    MANIFEST = "run.json"
    JUDGE_CACHE = ".judge_cache"
    REPORT = "report"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def check_writable(self, keep: bool = True) -> None:
        """Fail early, in one line, when results cannot be written. With `keep` False (a dry
        run, which starts nothing) the folders made for the probe are removed again."""
        made = [folder for folder in (self.root, *self.root.parents) if not folder.exists()]
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RayevalError(
                f"results folder {self.root} is not writable ({exc.strerror}); pass {option_ref('run.results_dir')}"
            ) from exc
        finally:
            for folder in made if not keep else []:
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def model_dir(self, model_id: str) -> Path:
        return self.root / model_id

    def benchmark_dir(self, model_id: str, dirname: str) -> Path:
        return self.root / model_id / dirname

    def judge_cache_dir(self) -> Path:
        """Judge answers cached across models and runs (see `rayeval.judge.cache`)."""
        return self.root / self.JUDGE_CACHE

    def model_ids(self) -> list[str]:
        """Ids of models that have a results folder (anything with a manifest or benchmark dir)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and p.name not in {"summaries", self.REPORT} and not p.name.startswith(".")
        )

    def report_dir(self) -> Path:
        """`rayeval report`'s files: report.md, report.csv, comparisons.csv, report.html, plots/."""
        return self.root / self.REPORT

    def report_file(self, name: str) -> Path:
        return self.report_dir() / name

    def report_plot(self, benchmark: str, metric: str) -> Path:
        """The PNG of one headline metric over steps (`/` in metric names becomes `_`)."""
        return self.report_dir() / "plots" / f"{benchmark}__{metric.replace('/', '_')}.png"

    # -- shard journal -------------------------------------------------------------------------

    def _journal_dir(self, model_id: str, benchmark: str) -> Path:
        return self.root / model_id / self.JOURNAL / benchmark

    def save_shard(self, model_id: str, benchmark: str, shard_id: str, results: list[Result]) -> None:
        """Record a finished shard (atomically) so a rerun does not redo it."""
        payload = [result_to_dict(r) for r in results]
        atomic_write_text(self._journal_dir(model_id, benchmark) / f"{shard_id}.json", json.dumps(payload))

    def load_shard(self, model_id: str, benchmark: str, shard_id: str) -> list[Result] | None:
        """The results of a shard finished by an earlier run, or None."""
        path = self._journal_dir(model_id, benchmark) / f"{shard_id}.json"
        if not path.is_file():
            return None
        try:
            return [result_from_dict(d) for d in json.loads(path.read_text(encoding="utf-8"))]
        except (json.JSONDecodeError, KeyError, TypeError):
            return None  # unreadable journal entry: redo that shard rather than trust it

    def clear_journal(self, model_id: str, benchmark: str) -> None:
        shutil.rmtree(self._journal_dir(model_id, benchmark), ignore_errors=True)

    def generation_finished(self, model_id: str, bench: Benchmark[Any]) -> bool:
        """Whether a pair's generation is over: the benchmark's files are in its folder (written by
        rayeval, by another tool or by hand) and no journal of an unfinished rayeval generation is
        left (rayeval deletes it right after writing the files, so a crash between two files of a
        benchmark, or a generation still running, leaves it)."""
        done = bench.generation_done(self.benchmark_dir(model_id, bench.results_dirname))
        return done and not self._journal_dir(model_id, bench.name).is_dir()

    # -- manifest ------------------------------------------------------------------------------

    def read_manifest(self, model_id: str) -> dict:
        path = self.model_dir(model_id) / self.MANIFEST
        if not path.is_file():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def update_manifest(self, model_id: str, updates: dict) -> dict:
        """Merge `updates` into `run.json` (one level deep for dict values) and rewrite it."""
        manifest = self.read_manifest(model_id)
        for key, value in updates.items():
            if isinstance(value, dict) and isinstance(manifest.get(key), dict):
                manifest[key] = {**manifest[key], **value}
            else:
                manifest[key] = value
        atomic_write_json(self.model_dir(model_id) / self.MANIFEST, manifest)
        return manifest

    # -- summaries -----------------------------------------------------------------------------

    def scores_path(self, model_id: str) -> Path:
        return self.root / "summaries" / f"{model_id}_scores.jsonl"

    def read_scores(self, model_id: str) -> list[dict]:
        path = self.scores_path(model_id)
        return read_jsonl(path) if path.is_file() else []

    def write_scores(self, model_id: str, benchmark: str, rows: list[dict]) -> None:
        """Replace `benchmark`'s rows in the model's summary file, keeping other benchmarks'."""
        kept = [r for r in self.read_scores(model_id) if r.get("benchmark") != benchmark]
        fresh = [{"benchmark": benchmark, **{k: v for k, v in r.items() if k != "benchmark"}} for r in rows]
        atomic_write_jsonl(self.scores_path(model_id), kept + fresh)
