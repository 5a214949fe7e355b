"""Run files (`rayeval run RUN.yaml`): parsing, `${VAR}`, one-line errors with the key path, the
key warning, per-model settings, and the command line winning over the file. Pure and fast
(the CLI cases run `rayeval run --dry-run` in a subprocess: no engine, no Ray)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from checkpoints import write_model
from cli_runner import run_rayeval as rayeval
from paths import PROJECT

from rayeval.errors import RayevalError
from rayeval.run_file import load_run_file, model_specs
from rayeval.settings import Settings

ISSUE_EXAMPLE = """
models:
  - id: "my-model"
    api_name: "my-model"
    api_base: "http://localhost:8001/v1"
    api_key: "dummy"
judge:
  api_base: "https://openrouter.ai/api/v1"
  api_key: "sk-or-v1-xxx"
  model_name: "stepfun/step-3.5-flash:free"
benchmarks:
  ifeval: true
  truthfulqa: true
  alpacaeval: true
  livebench: true
"""


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def model_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    return write_model(folder)


def test_the_replaced_tools_file_is_read_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    contents = load_run_file(write(tmp_path, ISSUE_EXAMPLE))
    settings = Settings.build(contents.sections)
    assert settings.run.benchmarks == ["ifeval", "truthfulqa", "alpacaeval", "livebench"]
    assert (settings.judge.api_base, settings.judge.model) == ("https://openrouter.ai/api/v1", "stepfun/step-3.5-flash:free")
    assert settings.judge.resolved_key().get_secret_value() == "sk-or-v1-xxx"  # type: ignore[union-attr]
    [model] = model_specs(contents, settings.api.key_env).models
    assert model.id == "my-model" and model.api is not None
    assert (model.api.base_url, model.api.model) == ("http://localhost:8001/v1", "my-model")
    assert model.api.api_key is not None and model.api.api_key.get_secret_value() == "dummy"
    assert "dummy" not in repr(model) and "dummy" not in str(model.manifest())
    assert [w.split(": ")[1] for w in contents.warnings] == [
        "judge.api_key is written in the file",
        "models[0].api_key is written in the file",
    ]


def test_local_hub_and_served_models_share_one_list_with_unique_ids(tmp_path: Path) -> None:
    run = model_folder(tmp_path, "run/checkpoint-10").parent
    model_folder(tmp_path, "run/checkpoint-20")
    path = write(
        tmp_path,
        f"""
        models:
          - path: {run}
            tp_size: 2
          - hf_id: org/checkpoint-10
          - {{api_base: "http://h:1/v1", api_name: org/checkpoint-10}}
          - {{path: {model_folder(tmp_path, "other")}, id: "my teacher", sampling: {{max_tokens: 64}}}}
        run: {{limit: 3}}
        """,
    )
    contents = load_run_file(path)
    assert contents.sections["engine"] == {"tp_size": 2} and contents.sections["sampling"] == {"max_tokens": 64}
    ids = [m.id for m in model_specs(contents, "OPENAI_API_KEY").models]
    assert ids == ["run_checkpoint-10", "run_checkpoint-20", "checkpoint-10", "checkpoint-10-2", "my_teacher"]


def test_variables_are_substituted_before_validation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models: [{path: org/m, tp_size: "${TP}"}]
        judge: {api_base: "http://${HOST:-localhost}:8000/v1", api_key: "${KEY}"}
        """,
    )
    contents = load_run_file(path, {"TP": "4", "KEY": "from-env"})
    assert contents.sections["engine"] == {"tp_size": 4}
    assert contents.sections["judge"]["api_base"] == "http://localhost:8000/v1"
    assert contents.warnings == []  # a key from ${VAR} is fine


BAD = {
    "typo'd key": ("models: [{path: org/m, tp_sise: 2}]", "models[0].tp_sise: unknown key; did you mean tp_size?"),
    "typo'd section": ("models: [{path: org/m}]\njudgee: {model: x}", "judgee: unknown key; did you mean judge?"),
    "wrong type": ("models: [{path: org/m}]\njudge: {concurrency: lots}", "judge.concurrency: input should be a valid integer"),
    "missing api_base": ("models:\n  - path: org/m\n  - {api_name: x, api_key: y}", "models[1].api_base: field required"),
    "unresolved variable": ("models: [{api_base: '${NO_SUCH_HOST}/v1', api_name: x}]", "models[0].api_base: ${NO_SUCH_HOST} is not set"),
    "no source": ("models: [{id: x}]", "models[0]: give one of api_base (a served model), path (a local folder) or hf_id"),
    "no models": ("benchmarks: {ifeval: true}", "models: field required"),
    "unknown benchmark": ("models: [{path: org/m}]\nbenchmarks: {mmlu: true}", "benchmarks.mmlu: unknown key; known keys: ifeval"),
    "benchmark option": ("models: [{path: org/m}]\nbenchmarks: {livebench: {taks: [math]}}", "benchmarks.livebench.taks: unknown key"),
    "tp disagrees": (
        "models: [{path: org/a, tp_size: 2}, {path: org/b, tp_size: 4}]",
        "models[1].tp_size: 4 differs from 2 (models[0].tp_size); one run uses one engine setup",
    ),
    "not YAML": ("models: [", "is not valid YAML at line"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_one_line_naming_the_key(case: str, tmp_path: Path) -> None:
    text, expected = BAD[case]
    with pytest.raises(RayevalError) as caught:
        load_run_file(write(tmp_path, text), {})
    message = str(caught.value)
    assert expected in message and str(tmp_path / "run.yaml") in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    "case",
    ["typo'd key", "wrong type", "missing api_base", "unresolved variable"],
)
def test_the_command_prints_exactly_one_line_and_exits_2(case: str, tmp_path: Path) -> None:
    result = rayeval("run", str(write(tmp_path, BAD[case][0])), "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {tmp_path / 'run.yaml'}: {BAD[case][1]}"), line


def test_command_line_wins_over_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        models: [{{path: {model_folder(tmp_path, "m")}, tp_size: 2}}]
        benchmarks: [ifeval]
        run: {{limit: 5}}
        engine: {{device: cpu}}
        """,
    )
    data = ["--data-dir", str(PROJECT.parent / "shared" / "data")]  # reads ../shared
    from_file = rayeval("run", str(path), "--dry-run", *data, cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert "ifeval=5" in from_file.stdout and "2 CPU rank(s)" in from_file.stdout
    overridden = rayeval("run", str(path), "--dry-run", "--limit", "2", "-t", "1", *data, cwd=tmp_path)
    assert overridden.returncode == 0, overridden.stderr
    assert "ifeval=2" in overridden.stdout and "1 CPU rank(s)" in overridden.stdout


def test_a_key_in_the_file_is_a_warning_that_never_shows_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        models: [{api_base: "http://127.0.0.1:9/v1", api_name: m, api_key: sk-FAKE-in-file-7c1e}]
        benchmarks: [ifeval]
        """,
    )
    result = rayeval("run", str(path), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "models[0].api_key is written in the file" in result.stderr and "${SOME_VAR}" in result.stderr
    assert "sk-FAKE-in-file-7c1e" not in result.stdout + result.stderr


def test_the_old_scripts_port_option_is_refused_with_the_reason(tmp_path: Path) -> None:
    for command in (["run", str(write(tmp_path, ISSUE_EXAMPLE))], ["generate", "org/m"], ["sweep", "org/m"]):
        result = rayeval(*command, "-p", "8001", "--dry-run", cwd=tmp_path)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: -p/--port is not an option of rayeval: rayeval starts no server") and "openai:NAME@" in line


def test_the_old_scripts_other_options_keep_their_meaning_on_run(tmp_path: Path) -> None:
    result = rayeval("run", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--gpu-mem", "--tp-size", "--benchmarks", "--skip-existing", "--judge-api-base", "--judge-api-key", "--judge-model"):
        assert option in result.stdout, option
    assert "--port" not in result.stdout  # refused, not offered
