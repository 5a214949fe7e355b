"""The bad-input catalogue: each bad input a user can give rayeval, run through the real command
line in a subprocess on real files, ends with a non-zero exit and exactly one line on stderr that
names the problem and the fix, and nothing else lost (a broken checkpoint in a run folder fails
alone; the others stay in the plan). Every case here runs with `--dry-run` (or fails before one
could matter): the checks that can run before engines start run in a dry run too.

docs/reliability.md lists every case with the test that proves it; cases that need engines or a
judge are proven elsewhere (named there).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkpoints import safetensors_bytes, write_model
from cli_runner import run_rayeval as rayeval

LLAMA_LIKE = {"model_type": "llama", "num_attention_heads": 9, "max_position_embeddings": 2048}
"""SmolLM2-135M's head count and context: a config whose numbers the preflight checks."""


@dataclass(frozen=True)
class Case:
    """`setup(tmp)` makes the files and returns the command's arguments; the command must exit
    with `code` and print exactly one stderr line containing `says`."""

    setup: Callable[[Path], list[str]]
    code: int
    says: str


def generate(model: Path | str, *extra: str) -> list[str]:
    return ["generate", str(model), "-b", "ifeval", "--limit", "2", "--dry-run", *extra]


def with_config(text: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        (tmp / "rayeval.yaml").write_text(textwrap.dedent(text))
        return ["--config", str(tmp / "rayeval.yaml"), *generate(write_model(tmp / "m"))]

    return setup


def with_run_file(text: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        write_model(tmp / "m")
        (tmp / "run.yaml").write_text(textwrap.dedent(text).replace("MODEL", str(tmp / "m")))
        return ["run", str(tmp / "run.yaml"), "--dry-run"]

    return setup


def model_with(tmp: Path, **files: bytes | str) -> Path:
    """A model folder with LLAMA_LIKE's config.json and a good model.safetensors, then `files`
    (name with `__` for `.` → content) written over them."""
    folder = write_model(tmp / "m", LLAMA_LIKE)
    for name, content in files.items():
        path = folder / name.replace("__", ".")
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return folder


def without(name: str) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        folder = model_with(tmp)
        (folder / name).unlink()
        return generate(folder)

    return setup


def dangling(name: str) -> Callable[[Path], list[str]]:
    """`name` in checkpoint-1 of a run is a symbolic link to a file that is not there (unreadable
    even for root, who reads past permissions; the usual shape of a Hugging Face cache whose blob
    was cleaned away)."""

    def setup(tmp: Path) -> list[str]:
        folder = write_model(tmp / "run" / "checkpoint-1", LLAMA_LIKE)
        (folder / name).unlink()
        (folder / name).symlink_to(tmp / "blobs" / "gone")
        return generate(tmp / "run")

    return setup


def truncated(tmp: Path) -> list[str]:
    return generate(model_with(tmp, model__safetensors=safetensors_bytes()[:-3]))


def checkpoint_without_config(tmp: Path) -> list[str]:
    """A run folder's checkpoint with weights only (a folder holding only weights is no model
    on its own, but is one as a numbered checkpoint of a run)."""
    (write_model(tmp / "run" / "checkpoint-1") / "config.json").unlink()
    return generate(tmp / "run")


def empty_folder(tmp: Path) -> list[str]:
    (tmp / "empty").mkdir()
    return generate(tmp / "empty")


def run_folder_with_one_broken_checkpoint(tmp: Path) -> list[str]:
    for step in (1, 2, 3):
        write_model(tmp / "run" / f"checkpoint-{step}", LLAMA_LIKE)
    (tmp / "run" / "checkpoint-2" / "config.json").write_text('{"model_type": "llama",')
    return generate(tmp / "run")


def missing_shard(tmp: Path) -> list[str]:
    folder = model_with(tmp)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return generate(folder)


def malformed_data_line(tmp: Path) -> list[str]:
    data = tmp / "data" / "ifeval"
    data.mkdir(parents=True)
    line = json.dumps({"key": 1, "prompt": "Say hi.", "instruction_id_list": [], "kwargs": []})
    (data / "input_data.jsonl").write_text(f'{line}\n{line}\n{{"key": 3, "prompt": \n')
    return generate(write_model(tmp / "m"), "--data-dir", str(tmp / "data"))


def results_under_a_file(tmp: Path) -> list[str]:
    (tmp / "a-file").write_text("")
    return generate(write_model(tmp / "m"), "--results-dir", str(tmp / "a-file" / "results"))


CASES: dict[str, Case] = {
    # -- checkpoints -------------------------------------------------------------------------
    "config.json not JSON": Case(lambda t: generate(model_with(t, config__json="{not json")), 1, "config.json is not valid JSON at line 1"),
    "config.json not an object": Case(lambda t: generate(model_with(t, config__json="[1, 2]")), 1, "config.json is not a JSON object"),
    "checkpoint without config.json": Case(checkpoint_without_config, 1, "checkpoint-1: no config.json; copy the config.json"),
    "config.json but no weights yet": Case(without("model.safetensors"), 1, "config.json but no weight files"),
    "safetensors truncated": Case(truncated, 1, "model.safetensors is damaged or truncated: its tensors need"),
    "safetensors empty": Case(
        lambda t: generate(model_with(t, model__safetensors=b"")), 1, "damaged or truncated (0 bytes); copy it again"
    ),
    "safetensors header garbage": Case(
        lambda t: generate(model_with(t, model__safetensors=struct.pack("<Q", 1 << 40) + b"x" * 64)), 1, "its header claims"
    ),
    "safetensors header not JSON": Case(
        lambda t: generate(model_with(t, model__safetensors=struct.pack("<Q", 8) + b"\xff" * 8)), 1, "its header is not JSON"
    ),
    "shard listed in the index missing": Case(missing_shard, 1, "model.safetensors.index.json lists 1 missing shard(s)"),
    "weights unreadable": Case(dangling("model.safetensors"), 1, "cannot read model.safetensors (No such file or directory)"),
    "config.json unreadable": Case(dangling("config.json"), 1, "cannot read config.json (No such file or directory)"),
    "one broken checkpoint of three": Case(run_folder_with_one_broken_checkpoint, 1, "failed run_checkpoint-2: "),
    "empty checkpoint folder": Case(empty_folder, 2, "is neither a model folder"),
    "model path does not exist": Case(lambda t: generate(t / "nope"), 2, "is not an existing folder nor a hub repo id"),
    "model path is a file": Case(lambda t: generate(model_with(t) / "config.json"), 2, "is a file, not a model folder"),
    "served model input malformed": Case(lambda t: generate("openai:gpt-4o-mini"), 2, "is not of the form openai:NAME@URL"),
    # -- engine settings against the model and the machine ------------------------------------
    "tp does not divide the heads": Case(
        lambda t: generate(model_with(t), "-t", "2"), 1, "--tp-size 2 does not divide the model's 9 attention heads"
    ),
    "tp larger than any node's CPUs": Case(
        lambda t: generate(write_model(t / "m"), "-t", "4096", "--device", "cpu"), 2, "--tp-size 4096 needs 4096 CPUs on one node"
    ),
    "max-model-len beyond the context": Case(
        lambda t: generate(model_with(t), "--max-model-len", "4096"), 1, "--max-model-len 4096 is longer than the model's context of 2048"
    ),
    "results dir not writable": Case(results_under_a_file, 2, "is not writable (Not a directory); pass --results-dir"),
    "option value out of range": Case(lambda t: generate(write_model(t / "m"), "--temperature", "-1"), 2, "--temperature"),
    # -- benchmarks and data -----------------------------------------------------------------
    "unknown benchmark": Case(
        lambda t: [*generate(write_model(t / "m")), "-b", "mmlu"], 2, "benchmark 'mmlu' is not available; choose from:"
    ),
    "data dir lacks a file": Case(
        lambda t: generate(write_model(t / "m"), "--data-dir", str(t)), 2, "input_data.jsonl is missing from --data-dir"
    ),
    "malformed line in a data file": Case(malformed_data_line, 2, "input_data.jsonl:3: not valid JSON"),
    # -- config files ------------------------------------------------------------------------
    "config file missing": Case(
        lambda t: ["--config", str(t / "nope.yaml"), *generate(write_model(t / "m"))], 2, "cannot read config file"
    ),
    "config file malformed YAML": Case(with_config("limit: [1, 2\n"), 2, "is not valid YAML at line"),
    "config file unknown key": Case(with_config("tp-sise: 2\n"), 2, "`tp-sise` is neither an option nor a command section"),
    "config file wrong type": Case(with_config("generate:\n  limit: many\n"), 2, "`limit: many`: Input should be a valid integer"),
    "config file holds a key": Case(with_config("judge-api-key: sk-123\n"), 2, "is a secret and does not belong in a file"),
    "run file unknown key": Case(with_run_file("models:\n  - {path: MODEL, tp_sise: 2}\n"), 2, "models[0].tp_sise: unknown key"),
    "run file unset variable": Case(
        with_run_file("models:\n  - {api_base: 'http://127.0.0.1:9/v1', api_name: m, api_key: '${UNSET_KEY_FOR_TEST}'}\n"),
        2,
        "${UNSET_KEY_FOR_TEST} is not set; export UNSET_KEY_FOR_TEST",
    ),
    "run file malformed YAML": Case(with_run_file("models: [\n"), 2, "not valid YAML"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_a_non_zero_exit(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    result = rayeval(*case.setup(tmp_path), cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == case.code, result.stderr
    assert len(lines) == 1, result.stderr
    assert case.says in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists(), "a dry run wrote results"


def test_a_broken_checkpoint_fails_alone_and_the_others_stay_planned(tmp_path: Path) -> None:
    result = rayeval(*run_folder_with_one_broken_checkpoint(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "run_checkpoint-1" in result.stdout and "run_checkpoint-3" in result.stdout
    assert "failed run_checkpoint-2: " in result.stderr and "config.json is not valid JSON" in result.stderr


def test_same_named_models_and_escaping_ids_get_their_own_safe_folders(tmp_path: Path) -> None:
    """Handled, not refused (README: ids are made unique and path-safe): two folders named alike
    on the command line, and run-file ids that climb out of the results folder."""
    a, b = write_model(tmp_path / "a" / "model"), write_model(tmp_path / "b" / "model")
    same = rayeval("generate", str(a), str(b), "-b", "ifeval", "--limit", "2", "--dry-run", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "│ model " in same.stdout and "│ model-2 " in same.stdout
    (tmp_path / "run.yaml").write_text(f"models:\n  - {{id: '../../escape', path: {a}}}\n  - {{id: '/etc/cron.d', path: {b}}}\n")
    escaping = rayeval("run", str(tmp_path / "run.yaml"), "-b", "ifeval", "--limit", "2", "--dry-run", cwd=tmp_path)
    assert escaping.returncode == 0, escaping.stderr
    assert "____escape" in escaping.stdout and "_etc_cron.d" in escaping.stdout
    assert "../" not in escaping.stdout.replace(str(tmp_path), "")


def test_a_dry_run_leaves_no_folder_behind(tmp_path: Path) -> None:
    """The results folder is probed for writing in a dry run, then removed again."""
    result = rayeval(*generate(write_model(tmp_path / "m"), "--results-dir", str(tmp_path / "new" / "results")), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["m"]


# -- bad inputs that only show once engines run ------------------------------------------------
# On real Ray with stand-in engines (tests/standin_engine.py: a vLLM start costs ~30 s and its
# outputs cannot be chosen); the result store, scoring tasks and files are real.

GIANT = 5_000_000
"""Characters of the gigantic answer: far above any benchmark's max_tokens, as a served model
ignoring the limit could send."""


class ScriptedEngine:
    """Answers `<key>|<model path>` (the same on every run, so reruns can be compared byte for
    byte); a model whose path ends in `odd` answers a lone surrogate (not encodable as UTF-8) and
    a NUL, or a gigantic text. Loading a local folder that is gone fails as vLLM does; a batch
    holding the key written in the model folder's FAIL_KEY fails."""

    def __init__(self, config, on_gpu: bool) -> None:
        self.path = ""

    def load(self, model, sampling) -> None:
        if model.path.startswith("/") and not (Path(model.path) / "config.json").is_file():
            raise OSError(f"{model.path}/config.json: No such file or directory")
        self.path = model.path

    def run(self, requests, sampling):
        from rayeval.requests import GenerationResult

        fail_key = Path(self.path) / "FAIL_KEY"
        if self.path.startswith("/") and fail_key.is_file() and fail_key.read_text() in {r.key for r in requests}:
            raise RuntimeError("engine failed on this shard")

        def text(index: int, key: str) -> str:
            if not self.path.endswith("odd"):
                return f"{key}|{self.path}"
            return "bad \udcff surrogate \x00 nul" if index % 2 == 0 else "x" * GIANT

        return [
            GenerationResult(key=r.key, text=text(i, r.key), prompt_tokens=3, completion_tokens=5, finish_reason="stop")
            for i, r in enumerate(requests)
        ]

    def unload(self) -> None:
        self.path = ""


def scripted_factory(config, on_gpu: bool) -> ScriptedEngine:
    return ScriptedEngine(config, on_gpu)


@pytest.fixture(scope="module")
def ray_scripted(standin_ray):
    """`standin_ray`, also running this module's `ScriptedEngine`."""
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def sweep(results: Path, shared_data: Path, models: list, limit: int = 6):
    from rayeval import benchmarks
    from rayeval.config import RunOptions, SamplingConfig
    from rayeval.data import DataSource
    from rayeval.engine.placement import EngineLayout
    from rayeval.generation import GenerateRequest
    from rayeval.scheduler import SilentProgress
    from rayeval.settings import Settings
    from rayeval.store import ResultStore
    from rayeval.sweep import plan_sweep, run_sweep

    settings = Settings(run=RunOptions(limit=limit, shard_size=2, data_dir=shared_data), sampling=SamplingConfig(max_tokens=8))
    request = GenerateRequest(models=models, benchmarks=[benchmarks.get("ifeval")], settings=settings)
    store, data = ResultStore(results), DataSource(shared_data)
    layout = EngineLayout(num_engines=1, tp_size=1, use_gpu=False)
    plan = plan_sweep(request, data, store, layout)
    return run_sweep(request, plan, data, store, layout, SilentProgress(), scripted_factory), store


def test_non_utf8_and_gigantic_answers_are_kept_whole_and_scored(ray_scripted, tmp_path: Path, shared_data: Path) -> None:
    from rayeval.models import ModelSpec

    report, store = sweep(tmp_path, shared_data, [ModelSpec(id="m", path="served-odd")])
    assert report.failures() == []
    lines = (tmp_path / "m" / "ifeval" / "candidate_outputs.jsonl").read_bytes().decode("utf-8").splitlines()  # valid UTF-8
    responses = [json.loads(line)["response"] for line in lines]
    assert responses[0] == "bad \udcff surrogate \x00 nul" and responses[1] == "x" * GIANT
    assert "prompt_level_strict_acc" in {row["metric"] for row in store.read_scores("m")}


def test_a_checkpoint_deleted_during_a_sweep_fails_alone(ray_scripted, tmp_path: Path, shared_data: Path) -> None:
    from rayeval.models import resolve_models

    for step in (1, 2, 3):
        write_model(tmp_path / "run" / f"checkpoint-{step}")
    models = resolve_models([str(tmp_path / "run")])
    for path in (tmp_path / "run" / "checkpoint-2").iterdir():  # deleted after it was found
        path.unlink()
    (tmp_path / "run" / "checkpoint-2").rmdir()
    report, store = sweep(tmp_path / "results", shared_data, models)
    assert [(model_id, what) for model_id, what, _ in report.failures()] == [("run_checkpoint-2", "generation")]
    assert "No such file or directory" in report.failures()[0][2]
    assert all(store.read_scores(f"run_checkpoint-{step}") for step in (1, 3))
    assert "No such file or directory" in store.read_manifest("run_checkpoint-2")["error"]


def test_a_partial_earlier_run_resumes_and_ends_byte_identical(ray_scripted, tmp_path: Path, shared_data: Path) -> None:
    """An earlier run cut short: one shard failed for good (its engine kept failing on it), and
    one of the shards it journaled was then cut mid-write (as a copy or a writer without atomic
    writes leaves it). The rerun redoes exactly those two shards and writes the same bytes as a
    run that was never cut short."""
    from rayeval.models import resolve_models

    models = resolve_models([str(write_model(tmp_path / "model"))])
    sweep(tmp_path / "whole", shared_data, models)
    expected = (tmp_path / "whole" / "model" / "ifeval" / "candidate_outputs.jsonl").read_bytes()
    last_key = json.loads(expected.decode().splitlines()[-1])["response"].split("|")[0]

    (tmp_path / "model" / "FAIL_KEY").write_text(last_key)
    cut, _ = sweep(tmp_path / "results", shared_data, models)
    assert [what for _, what, _ in cut.failures()] == ["generation"]
    journal = sorted((tmp_path / "results" / "model" / ".journal" / "ifeval").glob("*.json"))
    assert len(journal) == 2 and not (tmp_path / "results" / "model" / "ifeval" / "candidate_outputs.jsonl").exists()
    journal[0].write_bytes(journal[0].read_bytes()[:20])

    (tmp_path / "model" / "FAIL_KEY").unlink()
    rerun, _ = sweep(tmp_path / "results", shared_data, models)
    assert rerun.failures() == []
    assert (rerun.generation.shards_resumed, rerun.generation.shards_run) == (1, 2)
    assert (tmp_path / "results" / "model" / "ifeval" / "candidate_outputs.jsonl").read_bytes() == expected
