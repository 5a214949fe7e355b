"""No key leaks: every command path that can receive a key, with a distinctive fake key from each
place a key can come from, leaves it in no file, log or message.

The table `CASES` runs `generate` (a model behind an API, `openai:NAME@URL`), `evaluate` (an
endpoint judge), `sweep` (both, plus the W&B and MLflow trackers), `run` (a run file with
`${VAR}` keys, and one with keys written in it), `report` (trackers, every key in the
environment), `data pull` and a `--config` file holding a key, each through the real command
line in a subprocess. Keys come from the command line (`--judge-api-key`; a served model's key
has no option of its own, `--api-key-env` names its variable), from files (a run file's
`${VAR}` or a written key; a `--config` file refuses keys) and from the environment
(`OPENAI_API_KEY`, `RAYEVAL_JUDGE_API_KEY`, the variable `--api-key-env` names, and `HF_TOKEN`
in every run). Two cases have a key rejected with HTTP 401, one by an endpoint that echoes
the key back in its error body, so error messages are produced and checked.

Every key is then looked for in each case's captured stdout and stderr and in every file the
case left under its folder (results, `run.json`, the judge cache, the report, W&B and MLflow
runs, HOME with the XDG, Hugging Face and rayeval caches, TMPDIR), and after all cases in the
session logs of the Ray cluster they all ran on and in Ray's job table. Every keyed endpoint
must have seen its own key and no other, so each key is shown to have arrived where it belongs.

Test doubles: the models under test and the judges are `tests/fake_judge_server.py`, real HTTP
servers on loopback that check the bearer key (hosted models and GPT-4 cannot run here, and a
served model is the path that takes a key; no vLLM is needed). Ray is real: the test starts one
local cluster with none of the key variables in its environment, and every command connects to
it through `RAY_ADDRESS`, as a driver does on a cluster whose workers lack the driver's
environment; the commands run four at a time, each as soon as the case whose results it starts
from is done.
Reads the benchmark data in ../shared/data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fake_judge_server import FakeJudgeServer
from paths import PROJECT, SHARED

LIMIT = 2
CONCURRENT = 4
"""Commands at a time: each mostly waits for Ray workers to start; more only queue on 2 cores."""
K_MODEL_ENV = "sk-FAKE-model-openai-env-5d1e8a"
K_MODEL_NAMED = "sk-FAKE-model-named-env-9c04f2"
K_MODEL_FILE = "sk-FAKE-model-runfile-var-71b3d6"
K_MODEL_LITERAL = "sk-FAKE-model-runfile-written-2e9a40"
K_JUDGE_OPTION = "sk-FAKE-judge-option-40f7aa"
K_JUDGE_ENV = "sk-FAKE-judge-openai-env-e3195c"
K_JUDGE_FILE = "sk-FAKE-judge-runfile-var-8a62d0"
K_JUDGE_LITERAL = "sk-FAKE-judge-runfile-written-c7d3e1"
K_JUDGE_WRONG = "sk-FAKE-judge-rejected-echoed-16fb59"
K_CONFIG = "sk-FAKE-judge-config-file-0b5e7c"
K_HF = "hf_FAKEhubtoken3a9d72c4e1"
ALL_KEYS = (
    K_MODEL_ENV, K_MODEL_NAMED, K_MODEL_FILE, K_MODEL_LITERAL, K_JUDGE_OPTION,
    K_JUDGE_ENV, K_JUDGE_FILE, K_JUDGE_LITERAL, K_JUDGE_WRONG, K_CONFIG, K_HF,
)  # fmt: skip
ON_COMMAND_LINE = {K_JUDGE_OPTION}
"""Keys given as an option: the command line is the process's, and Ray's job table records the
driver's command line (docs/reliability.md says so; the environment is the place for keys)."""

SERVER_KEYS: dict[str, str | None] = {
    "model-env": K_MODEL_ENV,
    "model-named": K_MODEL_NAMED,
    "model-file": K_MODEL_FILE,
    "model-locked": "sk-FAKE-the-key-nobody-has",
    "judge-option": K_JUDGE_OPTION,
    "judge-env": K_JUDGE_ENV,
    "judge-file": K_JUDGE_FILE,
    "judge-literal": K_JUDGE_LITERAL,
    "judge-echo": None,  # lets /models through, then refuses every request, echoing the key
}
MODEL = "served"
"""Every served model's name, so `openai:served@URL` has the results folder `served`."""


def echo_rejection(number: int, body: dict) -> tuple:
    """A careless endpoint's 401 that quotes the rejected key in full."""
    return ("json", 401, {"error": {"message": f"Incorrect API key provided: {K_JUDGE_WRONG}", "type": "invalid_request_error"}})


@dataclass
class Context:
    """What a case's command line needs: the servers' URLs, and where the cases' folders are."""

    urls: dict[str, str]
    root: Path

    def results(self, case: str) -> Path:
        return self.root / case / "results"


@dataclass(frozen=True)
class Case:
    """`args(ctx, folder)` is the command line after `rayeval`; `env` the key variables it gets
    (besides `HF_TOKEN`); `inputs` files it writes into `folder` first (they may hold keys and
    are not searched); `copy` an earlier case whose results it starts from. The command must
    exit with `code`, its stderr contain `says`, and `check(folder, stdout, stderr)` hold."""

    args: Callable[[Context, Path], list[str]]
    code: int = 0
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""
    inputs: Callable[[Context], dict[str, str]] = lambda ctx: {}
    copy: str | None = None
    check: Callable[[Path, str, str], None] = lambda folder, out, err: None


def generated(folder: Path, out: str, err: str) -> None:
    manifest = json.loads((folder / "results" / MODEL / "run.json").read_text())
    assert manifest["benchmarks"]["alpacaeval"]["status"] == "complete", err[-2000:]
    [outputs] = (folder / "results" / MODEL).glob("alpaca*/model_outputs.json")
    assert len(json.loads(outputs.read_text())) == LIMIT


def generated_and_one_rejected(folder: Path, out: str, err: str) -> None:
    generated(folder, out, err)
    assert "rejected the API key (HTTP 401)" in unwrapped(err) and "locked" in err


def scored(folder: Path, out: str, err: str) -> None:
    scores = folder / "results" / "summaries" / f"{MODEL}_scores.jsonl"
    rows = [json.loads(line) for line in scores.read_text().splitlines()] if scores.is_file() else []
    assert any(row["benchmark"] == "alpacaeval" and row["value"] is not None for row in rows), err[-2000:]


def tracked(folder: Path, out: str, err: str) -> None:
    assert list((folder / "wandb").glob("offline-run-*/run-*.wandb")), err[-2000:]
    assert any((folder / "mlruns").rglob("meta.yaml")), err[-2000:]


def swept(folder: Path, out: str, err: str) -> None:
    scored(folder, out, err)
    tracked(folder, out, err)


def reported(folder: Path, out: str, err: str) -> None:
    assert (folder / "results" / "report" / "report.html").is_file(), err[-2000:]
    tracked(folder, out, err)


def unwrapped(text: str) -> str:
    """`text` with rich's line wrapping undone (every run of whitespace one space)."""
    return " ".join(text.split())


def scrubbed(folder: Path, out: str, err: str) -> None:
    """The endpoint's echo of the key reached the message with the key replaced."""
    assert "Incorrect API key provided: ***" in unwrapped(err), err[-2000:]


def judged_by(server: str, *extra: str) -> Callable[[Context, Path], list[str]]:
    def args(ctx: Context, folder: Path) -> list[str]:
        return ["evaluate", "-b", "alpacaeval", "--results-dir", "results", "--data-dir", str(SHARED / "data")] + [
            "--judge-api-base", ctx.urls[server], "--judge-model", "judge", *extra,
        ]  # fmt: skip

    return args


def generate(server: str, *extra: str) -> Callable[[Context, Path], list[str]]:
    def args(ctx: Context, folder: Path) -> list[str]:
        return ["generate", f"openai:{MODEL}@{ctx.urls[server]}", "-b", "alpacaeval", "--limit", str(LIMIT)] + [
            "--results-dir", "results", "--data-dir", str(SHARED / "data"), *extra,
        ]  # fmt: skip

    return args


def sweep(model: str, judge: str, *extra: str) -> Callable[[Context, Path], list[str]]:
    def args(ctx: Context, folder: Path) -> list[str]:
        return ["sweep", *generate(model)(ctx, folder)[1:], "--judge-api-base", ctx.urls[judge], "--judge-model", "judge", *extra]

    return args


TRACKERS = ("--wandb-project", "rayeval-secrets", "--mlflow-uri", "file:./mlruns")


def run_file(model_key: str, judge_key: str, model: str, judge: str) -> Callable[[Context], dict[str, str]]:
    def inputs(ctx: Context) -> dict[str, str]:
        text = f"""
            models:
              - {{id: {MODEL}, api_name: {MODEL}, api_base: "{ctx.urls[model]}", api_key: "{model_key}"}}
            judge: {{api_base: "{ctx.urls[judge]}", api_key: "{judge_key}", model_name: judge}}
            benchmarks: {{alpacaeval: true}}
            run: {{limit: {LIMIT}, data_dir: "{SHARED / "data"}", results_dir: results}}
            """
        return {"run.yaml": textwrap.dedent(text)}

    return inputs


CASES: dict[str, Case] = {
    "generate, model key from OPENAI_API_KEY": Case(generate("model-env"), env={"OPENAI_API_KEY": K_MODEL_ENV}, check=generated),
    "generate, model key from the variable --api-key-env names; a second model's endpoint rejects it (401)": Case(
        lambda ctx, folder: [
            *generate("model-named", "--api-key-env", "MY_MODEL_KEY")(ctx, folder),
            f"openai:locked@{ctx.urls['model-locked']}",
        ],
        code=1,  # the locked model fails alone
        env={"MY_MODEL_KEY": K_MODEL_NAMED},
        says="model endpoint",
        check=generated_and_one_rejected,
    ),
    "sweep, judge key by option, model key from the environment, trackers": Case(
        sweep("model-env", "judge-option", "--judge-api-key", K_JUDGE_OPTION, *TRACKERS),
        env={"OPENAI_API_KEY": K_MODEL_ENV},
        check=swept,
    ),
    "run --phase all, keys from a run file's ${VAR}": Case(
        lambda ctx, folder: ["run", "run.yaml", "--phase", "all"],
        env={"RUN_MODEL_KEY": K_MODEL_FILE, "RUN_JUDGE_KEY": K_JUDGE_FILE},
        inputs=run_file("${RUN_MODEL_KEY}", "${RUN_JUDGE_KEY}", "model-file", "judge-file"),
        check=scored,
    ),
    "--config file holding a judge key": Case(
        lambda ctx, folder: ["--config", "rayeval.yaml", *judged_by("judge-option")(ctx, folder)],
        code=2,
        says="is a secret and does not belong in a file",
        inputs=lambda ctx: {"rayeval.yaml": f"judge-api-key: {K_CONFIG}\n"},
    ),
    "data pull with every key in the environment": Case(
        lambda ctx, folder: ["data", "pull", "-b", "alpacaeval"],
        code=2,
        env={"OPENAI_API_KEY": K_MODEL_ENV, "RAYEVAL_JUDGE_API_KEY": K_JUDGE_ENV},
        says="could not get",  # offline: the hub is out of reach
    ),
    # -- on what the cases above left ------------------------------------------------------------
    "evaluate, judge key by option": Case(
        judged_by("judge-option", "--judge-api-key", K_JUDGE_OPTION), copy="generate, model key from OPENAI_API_KEY", check=scored
    ),
    "evaluate, judge key from OPENAI_API_KEY": Case(
        judged_by("judge-env"), env={"OPENAI_API_KEY": K_JUDGE_ENV}, copy="generate, model key from OPENAI_API_KEY", check=scored
    ),
    "evaluate, judge key from RAYEVAL_JUDGE_API_KEY rejected (401) and echoed by the endpoint": Case(
        judged_by("judge-echo"),
        code=1,
        env={"RAYEVAL_JUDGE_API_KEY": K_JUDGE_WRONG, "OPENAI_API_KEY": K_MODEL_ENV},  # RAYEVAL_JUDGE_API_KEY wins
        says="rejected the API key (HTTP 401)",
        check=scrubbed,
        copy="generate, model key from OPENAI_API_KEY",
    ),
    "run --phase evaluate, keys written in the run file": Case(
        lambda ctx, folder: ["run", "run.yaml", "--phase", "evaluate"],
        says="api_key is written in the file",
        inputs=run_file(K_MODEL_LITERAL, K_JUDGE_LITERAL, "model-env", "judge-literal"),
        copy="generate, model key from OPENAI_API_KEY",
        check=scored,
    ),
    "report, every key in the environment, trackers": Case(
        lambda ctx, folder: ["report", "--results-dir", "results", *TRACKERS],
        env={"OPENAI_API_KEY": K_MODEL_ENV, "RAYEVAL_JUDGE_API_KEY": K_JUDGE_ENV},
        copy="sweep, judge key by option, model key from the environment, trackers",
        check=reported,
    ),
}


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    folder: Path
    inputs: frozenset[str]
    seconds: float


@dataclass
class Runs:
    outcomes: dict[str, Outcome]
    servers: dict[str, FakeJudgeServer]
    ray_dir: Path
    jobs: list[dict]


def ray_auth_env() -> dict[str, str]:
    """What a driver needs to join the test's cluster: Ray 2.60 turns on token authentication
    for local clusters (the token lives in the real HOME, the commands get another)."""
    env = {name: value for name, value in os.environ.items() if name.startswith("RAY_AUTH")}
    token = Path.home() / ".ray" / "auth_token"
    if env.get("RAY_AUTH_MODE", "").lower() == "token" and "RAY_AUTH_TOKEN" not in env and token.is_file():
        env.setdefault("RAY_AUTH_TOKEN_PATH", str(token))
    return env


def run_case(name: str, case: Case, ctx: Context, address: str, source: Future[Outcome] | None) -> Outcome:
    """Run `case` in its folder, after `source` (the case it copies) is done."""
    if source is not None:
        source.result()
    folder = ctx.root / name
    if case.copy is not None:
        shutil.copytree(ctx.results(case.copy), folder / "results")
    for sub in ("home", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    inputs = case.inputs(ctx)
    for file_name, text in inputs.items():
        (folder / file_name).write_text(text)
    home = folder / "home"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT),
        "COLUMNS": "200",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HF_HOME": str(home / "hf"),
        "RAYEVAL_CACHE_DIR": str(home / "rayeval-cache"),
        "TMPDIR": str(folder / "tmp"),
        "HF_HUB_OFFLINE": "1",
        "HF_TOKEN": K_HF,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3 refuses new file stores unless asked
        "RAY_ADDRESS": address,
        **ray_auth_env(),
        **case.env,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "rayeval", *case.args(ctx, folder)], capture_output=True, text=True, timeout=400, cwd=folder, env=env
    )
    return Outcome(done.returncode, done.stdout, done.stderr, folder, frozenset(inputs), time.monotonic() - started)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    import ray

    root = tmp_path_factory.mktemp("secrets")
    ray_dir = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        for name in ("OPENAI_API_KEY", "RAYEVAL_JUDGE_API_KEY", "HF_TOKEN", "RAY_ADDRESS"):
            patch.delenv(name, raising=False)  # the cluster's workers must not have any key
        servers = {
            name: stack.enter_context(FakeJudgeServer(echo_rejection if name == "judge-echo" else None, key=key))
            for name, key in SERVER_KEYS.items()
        }
        ctx = Context(urls={name: server.url for name, server in servers.items()}, root=root)
        ray.init(address="local", num_cpus=8, include_dashboard=False, _temp_dir=str(ray_dir), logging_level="ERROR", log_to_driver=False)
        try:
            address = ray.get_runtime_context().gcs_address
            futures: dict[str, Future[Outcome]] = {}
            with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
                for name, case in CASES.items():  # a case comes after the one it copies, so that one starts first
                    futures[name] = pool.submit(run_case, name, case, ctx, address, futures.get(case.copy or ""))
                outcomes = {name: future.result() for name, future in futures.items()}
            jobs = list(ray._private.state.jobs())
        finally:
            ray.shutdown()
        yield Runs(outcomes, servers, ray_dir, jobs)
    shutil.rmtree(ray_dir, ignore_errors=True)


def files_holding_keys(roots: list[Path], skip: frozenset[Path] = frozenset()) -> list[str]:
    """`path: key` for every key found in a file under `roots` (symlinks not followed)."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path not in skip:
                data = path.read_bytes()
                found += [f"{path}: {key}" for key in ALL_KEYS if key.encode() in data]
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_no_key_in_any_file_or_message(runs: Runs, name: str) -> None:
    case, outcome = CASES[name], runs.outcomes[name]
    assert outcome.code == case.code, f"exit {outcome.code} after {outcome.seconds:.0f}s\n{outcome.stderr[-3000:]}"
    assert case.says in unwrapped(outcome.stderr), outcome.stderr[-3000:]
    case.check(outcome.folder, outcome.stdout, outcome.stderr)
    printed = outcome.stdout + outcome.stderr
    assert [key for key in ALL_KEYS if key in printed] == []
    inputs = frozenset(outcome.folder / file_name for file_name in outcome.inputs)
    assert files_holding_keys([outcome.folder], skip=inputs) == []


def test_each_key_reached_its_endpoint_and_no_other(runs: Runs) -> None:
    """Each key went where its source says (the env key of a judge through a cluster whose
    workers lack the variable included), and no endpoint saw another's key."""
    for name, key in SERVER_KEYS.items():
        seen = set(runs.servers[name].auth_headers)
        if name == "model-locked":
            assert seen == {f"Bearer {K_MODEL_NAMED}"}
        elif name == "judge-echo":
            assert seen == {f"Bearer {K_JUDGE_WRONG}"}
        else:
            assert seen == {f"Bearer {key}"}, name
    assert runs.servers["judge-echo"].calls >= 1, "the echoing endpoint was never asked, so its message was never produced"


def test_no_key_in_the_ray_session_logs(runs: Runs) -> None:
    """The logs of the cluster every command ran on: raylet, GCS, every driver and worker."""
    logs = [path.name for path in runs.ray_dir.glob("session_*/logs/*")]
    for job in runs.jobs:  # each command's driver log is here, so its workers' are too
        assert any(name.startswith(f"python-core-driver-{job['JobID']}") for name in logs), job
    assert len(runs.jobs) > 8 and any(name.startswith("worker-") for name in logs)  # the test's driver and 8 commands on Ray
    assert files_holding_keys([runs.ray_dir]) == []


def test_ray_job_table_holds_only_keys_given_on_the_command_line(runs: Runs) -> None:
    """Ray records each driver's command line as the job's entrypoint (`ray list jobs`, the
    dashboard): a key given as an option is there, as in the process list; no other key is."""
    entrypoints = " ".join(str(job.get("Entrypoint", "")) for job in runs.jobs)
    assert "rayeval" in entrypoints
    assert [key for key in ALL_KEYS if key in entrypoints and key not in ON_COMMAND_LINE] == []
