"""`rayeval run RUN.yaml --phase generate|evaluate|all` on real Ray.

Generation runs on stand-in engines (tests/standin_engine.py: a real vLLM start costs ~30 s and
tests/test_e2e_vllm.py covers it); scoring, the judge service, the result files and the run
file's path from YAML to `ModelSpec`s are real. The evaluate test runs the real command in a
subprocess on outputs placed by hand, as other tools leave them: GPT-4's IFEval responses shipped
with the official benchmark and a real 8B model's LiveBench answer files (both from ../shared/data,
with their official scores). That no key given to these commands is written anywhere is
tests/test_secrets.py's to prove.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from checkpoints import write_model
from paths import PROJECT, SHARED

from rayeval.benchmarks import parse_list
from rayeval.cli import run_phase
from rayeval.generation import GenerateRequest
from rayeval.run_file import Phase, load_run_file, model_specs
from rayeval.settings import Settings
from rayeval.store import ResultStore

LIMIT = 12
JUDGE_KEY = "sk-FAKE-judge-key-3f9a1c"
MODEL_KEY = "sk-FAKE-model-key-b7d204"


@pytest.fixture(scope="module")
def standin():
    import ray
    import standin_engine

    ray.init(num_cpus=3, logging_level="ERROR", log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(standin_engine)
    yield standin_engine
    ray.shutdown()


def run_file(tmp_path: Path, results: Path) -> Path:
    checkpoints = tmp_path / "ckpts"
    for step in (100, 200):
        write_model(checkpoints / f"checkpoint-{step}")
    path = tmp_path / "run.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            models:
              - path: {checkpoints}
            judge: {{api_base: "http://127.0.0.1:9/v1", api_key: "{JUDGE_KEY}", model_name: judge-model}}
            benchmarks: {{ifeval: true}}
            run: {{limit: {LIMIT}, shard_size: 6, data_dir: {SHARED / "data"}, results_dir: {results}}}
            sampling: {{max_tokens: 8}}
            """
        )
    )
    return path


def run(path: Path, phase: Phase, factory) -> bool:
    """What `rayeval run PATH --phase PHASE` does with no options on the command line, with the
    stand-in engines injected."""
    contents = load_run_file(path)
    settings = Settings.build(contents.sections)
    discovery = model_specs(contents, settings.api.key_env)
    request = GenerateRequest(models=discovery.models, benchmarks=parse_list(settings.run.benchmarks), settings=settings)
    return run_phase(phase, request, discovery.skipped, factory)


def test_generate_then_evaluate_then_all(standin, tmp_path: Path) -> None:
    results = tmp_path / "results"
    path = run_file(tmp_path, results)
    ids = ["ckpts_checkpoint-100", "ckpts_checkpoint-200"]
    store = ResultStore(results)

    assert not run(path, Phase.generate, standin.sleepy_factory())
    for model_id in ids:
        assert len((results / model_id / "ifeval" / "candidate_outputs.jsonl").read_text().splitlines()) == LIMIT
        assert store.read_scores(model_id) == []  # generation only
        assert json.loads((results / model_id / "run.json").read_text())["model"]["step"] in (100, 200)

    assert not run(path, Phase.evaluate, None)  # scoring only: no engine needed
    for model_id in ids:
        assert "prompt_level_strict_acc" in {row["metric"] for row in store.read_scores(model_id)}

    swept = tmp_path / "swept"
    path.write_text(path.read_text().replace(str(results), str(swept)))
    assert not run(path, Phase.all, standin.sleepy_factory())
    for model_id in ids:
        assert (swept / model_id / "ifeval" / "metrics.json").is_file()
        assert "prompt_level_strict_acc" in {row["metric"] for row in ResultStore(swept).read_scores(model_id)}


def test_evaluate_scores_outputs_placed_by_hand(tmp_path: Path) -> None:
    data = SHARED / "data"
    results = tmp_path / "results"
    ifeval = results / "gpt4-ref" / "ifeval"
    ifeval.mkdir(parents=True)
    shutil.copy(data / "ifeval" / "reference" / "gpt4_responses.jsonl", ifeval / "candidate_outputs.jsonl")
    task = Path("reasoning/web_of_lies_v2")
    answers = results / "llama-8b" / "livebench" / task
    answers.mkdir(parents=True)  # LiveBench's own answer file, no marker of any kind
    shutil.copy(data / "livebench-reference" / task / "model_answer.jsonl", answers / "model_answer.jsonl")
    path = tmp_path / "run.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            models:
              - id: gpt4-ref
                api_name: gpt-4
                api_base: "http://127.0.0.1:9/v1"
                api_key: "{MODEL_KEY}"
              - {{hf_id: some-org/llama-8b}}
            judge: {{api_base: "http://127.0.0.1:9/v1", api_key: "${{JUDGE_KEY}}", model_name: judge-model}}
            benchmarks:
              ifeval: true
              livebench: {{release: "2024-08-31", tasks: [web_of_lies_v2], workers: 1}}
            run: {{data_dir: {data}}}
            """
        )
    )
    ray_dir = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        result = subprocess.run(
            [sys.executable, "-m", "rayeval", "run", str(path), "--phase", "evaluate", "--results-dir", str(results)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT), "COLUMNS": "200", "JUDGE_KEY": JUDGE_KEY, "RAY_TMPDIR": str(ray_dir)},
        )
        assert result.returncode == 0, result.stderr
        assert "models[0].api_key is written in the file" in result.stderr
        store = ResultStore(results)
        ifeval_scores = {row["metric"]: row["value"] for row in store.read_scores("gpt4-ref")}
        # the official 76.89 %, up to the two prompts whose verdict the official scorer drew at random (tests/benchmarks/ifeval/test_parity.py)
        assert abs(100 * ifeval_scores["prompt_level_strict_acc"] - 76.89) <= 2 * 100 / 541
        official = [json.loads(line)["score"] for line in (data / "livebench-reference" / task / "ground_truth_judgment.jsonl").open()]
        livebench_scores = {row["metric"]: row["value"] for row in store.read_scores("llama-8b")}
        assert livebench_scores["task/web_of_lies_v2"] == pytest.approx(100 * sum(official) / len(official))
        assert "skip llama-8b/ifeval: no ifeval generations" in result.stderr
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
