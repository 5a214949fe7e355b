"""Snapshot every per-item result `rayeval evaluate` writes for the shared reference answers, and
compare two snapshots.

Why: a refactor of the package (moving plugins, changing internal APIs) must not change any
per-item result. The script touches only the public command line (`python -m rayeval evaluate`
with `--results-dir`, `--data-dir`, `-b`), so the same script runs against the tree before and
the tree after the change; two snapshots that compare equal prove the change kept every result.

    python scripts/parity_snapshot.py --out SNAPSHOT_DIR
    python scripts/parity_snapshot.py --compare SNAPSHOT_A SNAPSHOT_B

`--out` fills a temporary results folder with one model per benchmark, built from the reference
data in `../shared/data` in the documented results layout, runs `evaluate` on each and writes every
file of each benchmark folder plus the summaries file to SNAPSHOT_DIR, normalised (volatile fields
dropped, JSON keys sorted, CSV rows one per line with JSON-quoted cells, row order kept), and
`index.json` (file -> sha256).

Which package runs is decided the way `python -m rayeval` decides it: the current directory first,
then PYTHONPATH. The package used is printed; run from the tree under test.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VOLATILE = {"tstamp", "answer_id", "time_per_example"}  # wall-clock, random ids, timings
INDEX = "index.json"


@dataclass(frozen=True)
class Run:
    """One model folder, scored by one `evaluate` call."""

    model: str
    benchmark: str  # the `-b` name
    dirname: str  # the benchmark folder under the model
    args: list[str] = field(default_factory=list)


def closed_port_url() -> str:
    """A loopback endpoint nobody listens on: any judge call would fail the run loudly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def runs() -> list[Run]:
    # No LiveBench release holds every reference answer (old zebra puzzles left on 2024-11-25):
    # score all of them for 2024-08-31, as the parity test does, and again for the default release.
    return [
        Run("gpt4-reference", "ifeval", "ifeval"),
        Run("smollm2-sys", "truthfulqa", "truthfulqa"),  # the answer column is named after the model
        Run("claude-2", "alpacaeval", "alpacaeval2", ["--judge-api-base", closed_port_url(), "--judge-api-key", "unused"]),
        Run("livebench-2024-08-31", "livebench", "livebench", ["--livebench-release", "2024-08-31"]),
        Run("livebench-2024-11-25", "livebench", "livebench", ["--livebench-release", "2024-11-25"]),
    ]


def build_inputs(run: Run, out: Path, data: Path) -> None:
    """The generation files of `run` in the documented results layout, from the reference data."""
    out.mkdir(parents=True)
    if run.benchmark == "ifeval":
        shutil.copyfile(data / "ifeval/reference/gpt4_responses.jsonl", out / "candidate_outputs.jsonl")
    elif run.benchmark == "truthfulqa":  # answers only: MC is not part of the snapshot
        shutil.copyfile(data / "truthfulqa-reference/answers.csv", out / "TruthfulQA_generated.csv")
    elif run.benchmark == "alpacaeval":  # complete annotations: no judge call is made
        shutil.copyfile(data / "alpacaeval-reference/claude-2/annotations.json", out / "annotations.json")
    elif run.benchmark == "livebench":  # LiveBench's own answer files, as they are
        for answers in sorted((data / "livebench-reference").glob("*/*/model_answer.jsonl")):
            task = f"{answers.parent.parent.name}/{answers.parent.name}"
            (out / task).mkdir(parents=True)
            shutil.copyfile(answers, out / task / "model_answer.jsonl")
    else:
        raise ValueError(run.benchmark)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)  # let rayeval start its own local Ray
    env.pop("RAYEVAL_RESULTS_DIR", None)
    return env


def evaluate(run: Run, results: Path, data: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "rayeval",
        "evaluate",
        run.model,
        "-b",
        run.benchmark,
        "--results-dir",
        str(results),
        "--data-dir",
        str(data),
        *run.args,
    ]
    print(f"evaluate {run.model} ({run.benchmark})", file=sys.stderr, flush=True)
    done = subprocess.run(command, env=child_env(), capture_output=True, text=True, check=False)
    summary = results / "summaries" / f"{run.model}_scores.jsonl"
    if done.returncode != 0 or not summary.is_file():
        sys.exit(f"evaluate failed for {run.model} (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def dump(value: Any, indent: int | None = None) -> str:
    return json.dumps(strip_volatile(value), sort_keys=True, ensure_ascii=False, indent=indent)


def normalise(path: Path) -> bytes:
    """A file's content with volatile fields dropped and JSON keys sorted (row order kept)."""
    if path.suffix == ".json":
        return (dump(json.loads(path.read_text(encoding="utf-8")), indent=1) + "\n").encode()
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return "".join(dump(json.loads(line)) + "\n" for line in lines if line.strip()).encode()
    if path.suffix == ".csv":  # drop timing columns, if any; keep everything else as written
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        keep = [i for i, name in enumerate(rows[0] if rows else []) if name not in VOLATILE]
        lines = [",".join(json.dumps(row[i], ensure_ascii=False) if i < len(row) else "<none>" for i in keep) for row in rows]
        return "".join(line + "\n" for line in lines).encode()
    return path.read_bytes()


def snapshot(out: Path, data: Path) -> None:
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty; choose a new snapshot folder")
    package = subprocess.run(
        [sys.executable, "-c", "import rayeval; print(rayeval.__file__)"], env=child_env(), capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"rayeval package under test: {package}", file=sys.stderr)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="parity-results-") as tmp:
        results = Path(tmp)
        for run in runs():
            build_inputs(run, results / run.model / run.dirname, data)
            evaluate(run, results, data)
            folder = results / run.model / run.dirname
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                files[path.relative_to(results).as_posix()] = normalise(path)
        for path in sorted((results / "summaries").glob("*")):
            files[path.relative_to(results).as_posix()] = normalise(path)
    index = {}
    for name, content in sorted(files.items()):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)
        index[name] = hashlib.sha256(content).hexdigest()
    (out / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"{len(index)} files written to {out}", file=sys.stderr)


def first_difference(a: bytes, b: bytes) -> str:
    left, right = a.decode(errors="replace").splitlines(), b.decode(errors="replace").splitlines()
    for number, (x, y) in enumerate(zip(left, right), 1):
        if x != y:
            return f"line {number}:\n    A: {x[:300]}\n    B: {y[:300]}"
    return f"line {min(len(left), len(right)) + 1}: A has {len(left)} lines, B has {len(right)}"


def snapshot_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != INDEX}


def compare(a: Path, b: Path) -> int:
    for folder in (a, b):
        if not (folder / INDEX).is_file():
            sys.exit(f"{folder} is not a snapshot (no {INDEX})")
    bad = 0
    for name in sorted(snapshot_files(a) | snapshot_files(b)):
        if not (a / name).is_file() or not (b / name).is_file():
            print(f"MISSING  {name} (only in {'B' if not (a / name).is_file() else 'A'})")
            bad += 1
        elif (a / name).read_bytes() == (b / name).read_bytes():
            print(f"same     {name}")
        else:
            print(f"DIFFERS  {name} at {first_difference((a / name).read_bytes(), (b / name).read_bytes())}")
            bad += 1
    print(f"{bad} file(s) differ or are missing" if bad else "all files are the same")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="write a snapshot to this (new or empty) folder")
    mode.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two snapshots")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help=f"reference data (default {DEFAULT_DATA})")
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    snapshot(args.out, args.data_dir.resolve())


if __name__ == "__main__":
    main()
