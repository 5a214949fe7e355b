"""A benchmark from a package outside rayeval registers through the `rayeval.benchmarks` entry
point and runs end to end: its options appear on the command line, generation runs on real Ray
actors with the stand-in engine (tests/standin_engine.py: no vLLM needed to test the plugin
boundary), and evaluation writes its files and summary rows.

The package is `tests/plugins/rayeval_echo`; the test installs it the way pip would make it
visible, as a `*.dist-info` folder with an `entry_points.txt` on the import path, without
touching the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import PROJECT

PLUGINS = PROJECT / "tests" / "plugins"


@pytest.fixture()
def installed_echo(tmp_path: Path):
    """`rayeval_echo` importable and registered, as after `pip install`; removed afterwards."""
    from rayeval.benchmarks import BENCHMARKS

    site = tmp_path / "site"
    dist = site / "rayeval_echo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rayeval-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[rayeval.benchmarks]\necho = rayeval_echo.spec:BENCHMARK\n")
    paths = [str(site), str(PLUGINS)]
    sys.path[:0] = paths
    BENCHMARKS.refresh()
    yield os.pathsep.join(paths)
    del sys.path[: len(paths)]
    BENCHMARKS.refresh()


def test_an_installed_benchmark_is_registered_with_its_options(installed_echo: str) -> None:
    from rayeval.benchmarks import available, get
    from rayeval.settings import Settings

    assert available()[:4] == ["ifeval", "truthfulqa", "alpacaeval", "livebench"] and "echo" in available()
    assert get("echo").name == "echo"
    assert Settings.build({"echo": {"count": "3"}}).benchmarks["echo"].count == 3
    env = {**os.environ, "PYTHONPATH": installed_echo, "COLUMNS": "200"}
    generate = subprocess.run([sys.executable, "-m", "rayeval", "generate", "--help"], capture_output=True, text=True, env=env, timeout=60)
    evaluate = subprocess.run([sys.executable, "-m", "rayeval", "evaluate", "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert "--echo-count" in generate.stdout and "--echo-needle-prefix" not in generate.stdout
    assert "--echo-needle-prefix" in evaluate.stdout and "--echo-count" not in evaluate.stdout


def test_an_installed_benchmark_runs_end_to_end(installed_echo: str, tmp_path: Path) -> None:
    import ray
    import standin_engine

    from rayeval.benchmarks import parse_list
    from rayeval.data import DataSource
    from rayeval.engine.placement import EngineLayout
    from rayeval.evaluation import plan_evaluations, run_evaluations
    from rayeval.generation import GenerateRequest, make_plan, run_generation
    from rayeval.models import ModelSpec
    from rayeval.scheduler import SilentProgress
    from rayeval.settings import Settings
    from rayeval.store import ResultStore

    settings = Settings.build({"run": {"benchmarks": "echo"}, "echo": {"count": 7, "needle_prefix": ""}})
    model = ModelSpec(id="m", path="/ckpt/ok")
    request = GenerateRequest(models=[model], benchmarks=parse_list(settings.run.benchmarks), settings=settings)
    store, data = ResultStore(tmp_path / "results"), DataSource()
    ray.init(num_cpus=2, runtime_env={"env_vars": {"PYTHONPATH": installed_echo}}, logging_level="ERROR", log_to_driver=False)
    try:
        ray.cloudpickle.register_pickle_by_value(standin_engine)
        layout = EngineLayout(num_engines=1, tp_size=1, use_gpu=False)
        plan = make_plan(request, data, store, layout.num_engines)
        report = run_generation(request, plan, data, store, layout, SilentProgress(), standin_engine.sleepy_factory())
        assert report.finished == [("m", "echo")] and not report.failed_models
        todo, skipped = plan_evaluations(["m"], request.benchmarks, store, skip_existing=False)
        assert not skipped
        (outcome,) = run_evaluations(todo, store, settings)
    finally:
        ray.shutdown()
    assert outcome.error is None, outcome.error
    rows = [json.loads(line) for line in (tmp_path / "results" / "m" / "echo" / "echo.jsonl").read_text().splitlines()]
    assert [row["key"] for row in rows] == [f"e{i}" for i in range(7)]
    assert json.loads((tmp_path / "results" / "m" / "echo" / "scores.json").read_text()) == {"hits": 7, "n": 7}
    summary = [json.loads(line) for line in store.scores_path("m").read_text().splitlines()]
    assert [{k: row[k] for k in ("benchmark", "metric", "value")} for row in summary] == [
        {"benchmark": "echo", "metric": "echo_rate", "value": 1.0}
    ]
    assert summary[0]["run"] is None and summary[0]["step"] is None, "a model outside a training run has no run or step"
    manifest = json.loads((tmp_path / "results" / "m" / "run.json").read_text())
    assert manifest["benchmarks"]["echo"]["options"] == {"count": 7, "needle_prefix": ""}
    assert manifest["benchmarks"]["echo"]["version"] == "1"
