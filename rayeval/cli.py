"""The `rayeval` command line.

Only typer and rich are imported at module level so `rayeval --help` answers at once; every
command imports what it needs (ray, pydantic, the benchmarks) when it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rayeval.benchmarks.base import Benchmark
    from rayeval.evaluation import EvalOutcome
    from rayeval.scheduler import RunReport

DEFAULT_BENCHMARKS = "ifeval,truthfulqa,alpacaeval,livebench"

app = typer.Typer(
    name="rayeval",
    help="Evaluate LLM checkpoints on IFEval, TruthfulQA, AlpacaEval 2 and LiveBench with vLLM on Ray.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Benchmark data: fetch it ahead of time for air-gapped clusters.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

def _show_version(value: bool) -> None:
    if value:
        from rayeval import __version__

        out.print(f"rayeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
    config: Annotated[Optional[Path], typer.Option("-c", "--config", envvar="RAYEVAL_CONFIG", help="YAML file of option defaults (see configs/); command-line options win.")] = None,
) -> None:
    """Evaluate LLM checkpoints on IFEval, TruthfulQA, AlpacaEval 2 and LiveBench with vLLM on Ray."""
    if config is not None:
        from rayeval.config_file import load_default_map

        ctx.default_map = load_default_map(config, ctx.command)


# -- options shared by several commands --------------------------------------------------------

ModelInputs = Annotated[
    list[str],
    typer.Argument(help="Model folder, folder of checkpoint-*/step-* subfolders, folder of model folders, hub id org/name, or builtin:smollm2."),
]
Benchmarks = Annotated[str, typer.Option("-b", "--benchmarks", help="Comma-separated benchmarks.")]
ResultsDir = Annotated[Path, typer.Option("--results-dir", envvar="RAYEVAL_RESULTS_DIR", help="Where results are written.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Benchmark data in the layout of the README; default: packaged data, else the Hugging Face hub (cached).")]
Address = Annotated[Optional[str], typer.Option("--address", help="Ray address; default RAY_ADDRESS, else a local Ray is started.")]
SkipExisting = Annotated[bool, typer.Option("--skip-existing", help="Skip model/benchmark pairs whose output already exists.")]
TruthfulQAVersion = Annotated[str, typer.Option("--truthfulqa-version", help="2025: current 790-question CSV; 2022: the 817-question hub dataset.")]
LiveBenchRelease = Annotated[str, typer.Option("--livebench-release", help="Use LiveBench questions released on or before this date (and not removed by it).")]
LiveBenchTasks = Annotated[Optional[str], typer.Option("--livebench-tasks", help="Comma-separated LiveBench categories or tasks (default: all).")]


def _benchmark_options(truthfulqa_version: str, livebench_release: str, livebench_tasks: str | None, **extra: Any) -> dict[str, Any]:
    tasks = [t.strip() for t in livebench_tasks.split(",") if t.strip()] if livebench_tasks else None
    return {"truthfulqa_version": truthfulqa_version, "livebench_release": livebench_release, "livebench_tasks": tasks, **extra}


# -- generate ----------------------------------------------------------------------------------


@app.command()
def generate(
    model_inputs: ModelInputs,
    tp_size: Annotated[int, typer.Option("-t", "--tp-size", min=1, help="Tensor-parallel GPUs per engine.")] = 1,
    gpu_mem: Annotated[Optional[float], typer.Option("-g", "--gpu-mem", min=0.01, max=1.0, help="vLLM gpu_memory_utilization [default: 0.85; on CPU 0.3 of host memory, split between tp ranks].")] = None,
    benchmarks: Benchmarks = DEFAULT_BENCHMARKS,
    skip_existing: SkipExisting = False,
    num_engines: Annotated[Optional[int], typer.Option("--num-engines", min=1, help="Engines to start [default: fill the cluster's GPUs; 1 on a CPU-only cluster].")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N prompts of each benchmark (smoke runs).")] = None,
    max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", min=1, help="Max new tokens [default: each benchmark's own].")] = None,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0)] = 0.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    max_model_len: Annotated[Optional[int], typer.Option("--max-model-len", min=1, help="Context length for vLLM [default: the model's].")] = None,
    shard_size: Annotated[Optional[int], typer.Option("--shard-size", min=1, help="Prompts per shard [default: automatic, 16–256].")] = None,
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    address: Address = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and start nothing.")] = False,
    truthfulqa_version: TruthfulQAVersion = "2025",
    truthfulqa_mc: Annotated[bool, typer.Option("--truthfulqa-mc/--no-truthfulqa-mc", help="Also score TruthfulQA MC1/MC2/binary by log-likelihood (1.35M prompt tokens: minutes on a GPU, hours on a CPU).")] = True,
    livebench_release: LiveBenchRelease = "2024-11-25",
    livebench_tasks: LiveBenchTasks = None,
) -> None:
    """Generate benchmark responses for one model, many models or a folder of checkpoints."""
    from rayeval.config import EngineConfig, SamplingConfig
    from rayeval.generation import GenerateRequest

    request = GenerateRequest(
        models=_resolve(model_inputs),
        benchmarks=_benchmarks(benchmarks),
        sampling=SamplingConfig(temperature=temperature, max_tokens=max_tokens, seed=seed),
        engine=EngineConfig(tp_size=tp_size, gpu_memory_utilization=gpu_mem, max_model_len=max_model_len),
        options=_benchmark_options(truthfulqa_version, livebench_release, livebench_tasks, truthfulqa_mc=truthfulqa_mc),
        limit=limit,
        skip_existing=skip_existing,
        shard_size=shard_size,
    )
    report = _generate(request, results_dir, data_dir, address, num_engines, dry_run)
    if report is not None and report.failed_models:
        raise typer.Exit(1)


def _resolve(model_inputs: list[str]):
    from rayeval.models import resolve_models

    return resolve_models(model_inputs)


def _benchmarks(spec: str) -> list["Benchmark"]:
    from rayeval import benchmarks as registry

    return registry.parse_list(spec)


def _generate(request, results_dir: Path, data_dir: Path | None, address: str | None, num_engines: int | None, dry_run: bool) -> "RunReport | None":
    from rayeval.data import DataSource
    from rayeval.engine.placement import choose_layout
    from rayeval.generation import make_plan, run_generation
    from rayeval.progress import ConsoleProgress
    from rayeval.ray_session import connect, local_gpu_count
    from rayeval.store import ResultStore

    store = ResultStore(results_dir)
    data = DataSource(data_dir)
    if dry_run:
        gpus = local_gpu_count() if not (address or os.environ.get("RAY_ADDRESS")) else _cluster_gpus(address)
        layout = choose_layout(request.engine.tp_size, num_engines, gpus)
        plan = make_plan(request, data, store, layout.num_engines)
        _print_plan(plan, layout, store)
        return None
    store.check_writable()
    connect(address)
    layout = choose_layout(request.engine.tp_size, num_engines, _cluster_gpus(address))
    plan = make_plan(request, data, store, layout.num_engines)
    for model_id, bench in plan.skipped:
        err.print(f"skip {model_id}/{bench}: output exists (--skip-existing)")
    if not plan.work:
        err.print("nothing to generate")
        return None
    err.print(f"generating {sum(w.num_requests for w in plan.work)} prompts for {len({w.model.id for w in plan.work})} model(s) on {layout.describe()}")
    with ConsoleProgress(err) as progress:
        report = run_generation(request, plan, data, store, layout, progress)
    _print_generation_report(report, store)
    return report


def _cluster_gpus(address: str | None) -> float:
    from rayeval.engine.placement import cluster_gpu_count
    from rayeval.ray_session import connect

    connect(address)
    return cluster_gpu_count()


def _print_plan(plan, layout, store) -> None:
    from rich.table import Table

    table = Table(title="rayeval plan (dry run: nothing started)")
    for column in ("model id", "path", "step", "benchmarks"):
        table.add_column(column)
    for model in plan.models:
        benches = [f"{w.benchmark.name} ({w.num_requests})" for w in plan.work if w.model.id == model.id]
        benches += [f"{b} (skip: exists)" for m, b in plan.skipped if m == model.id]
        table.add_row(model.id, model.path, "" if model.step is None else str(model.step), ", ".join(benches))
    out.print(table)
    out.print(f"prompts per benchmark: " + ", ".join(f"{k}={v}" for k, v in plan.item_counts.items()))
    out.print(f"engines: {layout.describe()}; results: {store.root}")


def _print_generation_report(report: "RunReport", store) -> None:
    seconds = report.run_seconds
    rate = report.completion_tokens / seconds if seconds else 0.0
    err.print(
        f"done: {len(report.finished)} model/benchmark pair(s) written to {store.root}; "
        f"{report.shards_run} shard(s) run, {report.shards_resumed} resumed, {report.shards_retried} retried; "
        f"{report.model_loads} model load(s) ({report.load_seconds:.0f}s); {rate:.1f} generated tok/s per engine"
    )
    for model_id, reason in report.failed_models.items():
        err.print(f"[red]failed[/red] {model_id}: {reason}", highlight=False)


# -- evaluate ----------------------------------------------------------------------------------


@app.command()
def evaluate(
    model_inputs: Annotated[Optional[list[str]], typer.Argument(help="Model inputs as for generate, or model ids under --results-dir [default: every model there].")] = None,
    benchmarks: Benchmarks = DEFAULT_BENCHMARKS,
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    skip_existing: Annotated[bool, typer.Option("--skip-existing", help="Skip pairs that already have scores in the summaries file.")] = False,
    address: Address = None,
    truthfulqa_version: TruthfulQAVersion = "2025",
    livebench_release: LiveBenchRelease = "2024-11-25",
    livebench_tasks: LiveBenchTasks = None,
    alpacaeval_annotator: Annotated[str, typer.Option("--alpacaeval-annotator", help="alpaca_eval annotator config.")] = "weighted_alpaca_eval_gpt4_turbo",
    judge_api_base: Annotated[Optional[str], typer.Option("--judge-api-base", help="OpenAI-compatible endpoint of the judge.")] = None,
    judge_api_key: Annotated[Optional[str], typer.Option("--judge-api-key", help="Judge key [default: RAYEVAL_JUDGE_API_KEY or OPENAI_API_KEY]. Never written anywhere.")] = None,
    judge_model: Annotated[str, typer.Option("--judge-model", help="Judge model name; without --judge-api-base a path or hub id served in-cluster.")] = "gpt-4-1106-preview",
    judge_tp: Annotated[int, typer.Option("--judge-tp", min=1, help="Tensor-parallel size of an in-cluster judge.")] = 1,
    judge_concurrency: Annotated[int, typer.Option("--judge-concurrency", min=1, help="Judge requests in flight, whole pool.")] = 16,
    judge_rpm: Annotated[Optional[float], typer.Option("--judge-rpm", min=0.0, help="Judge requests per minute, whole pool.")] = None,
    judge_tpm: Annotated[Optional[float], typer.Option("--judge-tpm", min=0.0, help="Judge tokens per minute, whole pool.")] = None,
    judge_timeout: Annotated[float, typer.Option("--judge-timeout", min=1.0, help="Seconds per judge request.")] = 120.0,
    truthfulqa_judge: Annotated[Optional[str], typer.Option("--truthfulqa-judge", help="TruthfulQA GPT-judge (truthfulness): a completion model for the paper's 'True:' format, e.g. allenai/truthfulqa-truth-judge-llama2-7B; served in-cluster unless --truthfulqa-judge-api-base [default: off].")] = None,
    truthfulqa_judge_api_base: Annotated[Optional[str], typer.Option("--truthfulqa-judge-api-base", help="OpenAI-compatible endpoint serving --truthfulqa-judge.")] = None,
    truthfulqa_info_judge: Annotated[Optional[str], typer.Option("--truthfulqa-info-judge", help="TruthfulQA GPT-info (informativeness): a completion model for the 'Helpful:' format, e.g. allenai/truthfulqa-info-judge-llama2-7B; served in-cluster unless --truthfulqa-info-judge-api-base [default: off].")] = None,
    truthfulqa_info_judge_api_base: Annotated[Optional[str], typer.Option("--truthfulqa-info-judge-api-base", help="OpenAI-compatible endpoint serving --truthfulqa-info-judge.")] = None,
) -> None:
    """Score the generation outputs in the results folder."""
    from pydantic import SecretStr

    options = _benchmark_options(
        truthfulqa_version,
        livebench_release,
        livebench_tasks,
        alpacaeval_annotator=alpacaeval_annotator,
        truthfulqa_judge=truthfulqa_judge,
        truthfulqa_judge_api_base=truthfulqa_judge_api_base,
        truthfulqa_info_judge=truthfulqa_info_judge,
        truthfulqa_info_judge_api_base=truthfulqa_info_judge_api_base,
        judge={
            "api_base": judge_api_base,
            "api_key": SecretStr(judge_api_key) if judge_api_key else None,  # masked in any repr or log
            "model": judge_model,
            "tp": judge_tp,
            "concurrency": judge_concurrency,
            "rpm": judge_rpm,
            "tpm": judge_tpm,
            "timeout": judge_timeout,
        },
    )
    failed = _evaluate(model_inputs or [], benchmarks, results_dir, data_dir, skip_existing, address, options)
    if failed:
        raise typer.Exit(1)


def _model_ids(model_inputs: list[str], store) -> list[str]:
    """Ids under the results folder, from model inputs or plain ids; all of them if none given."""
    from rayeval.builtin_models import builtin_model_id
    from rayeval.errors import RayevalError
    from rayeval.models import BUILTIN_PREFIX, resolve_models

    if not model_inputs:
        ids = store.model_ids()
        if not ids:
            raise RayevalError(f"no results under {store.root}; run `rayeval generate` first or pass --results-dir")
        return ids
    ids: list[str] = []
    for model_input in model_inputs:
        if model_input.startswith(BUILTIN_PREFIX):
            ids.append(builtin_model_id(model_input[len(BUILTIN_PREFIX):]))
        elif store.model_dir(model_input).is_dir() and "/" not in model_input:
            ids.append(model_input)
        else:
            ids.extend(spec.id for spec in resolve_models([model_input]))
    return list(dict.fromkeys(ids))


def _evaluate(model_inputs: list[str], benchmarks: str, results_dir: Path, data_dir: Path | None, skip_existing: bool, address: str | None, options: dict[str, Any]) -> bool:
    """Returns True when any evaluation failed."""
    from rayeval.evaluation import plan_evaluations, run_evaluations
    from rayeval.ray_session import connect
    from rayeval.store import ResultStore

    store = ResultStore(results_dir)
    benches = _benchmarks(benchmarks)
    model_ids = _model_ids(model_inputs, store)
    todo, skipped = plan_evaluations(model_ids, benches, store, skip_existing)
    for outcome in skipped:
        err.print(f"skip {outcome.model_id}/{outcome.benchmark}: {outcome.skipped}", highlight=False)
    if not todo:
        err.print("nothing to evaluate")
        return False
    store.check_writable()
    connect(address)
    outcomes = run_evaluations(todo, store, data_dir, None, options)
    _print_scores(outcomes)
    return any(o.error for o in outcomes)


def _print_scores(outcomes: list["EvalOutcome"]) -> None:
    from rich.table import Table

    table = Table(title="scores")
    for column in ("model", "benchmark", "metric", "value"):
        table.add_column(column, overflow="fold")
    for outcome in sorted(outcomes, key=lambda o: (o.model_id, o.benchmark)):
        for score in outcome.scores:
            value = "" if score.value is None else f"{score.value:.4f}"
            table.add_row(outcome.model_id, outcome.benchmark, score.metric, value)
    out.print(table)
    for outcome in outcomes:
        for warning in outcome.warnings:
            err.print(f"[yellow]warning[/yellow] {outcome.model_id}/{outcome.benchmark}: {warning}", highlight=False)
        if outcome.error:
            err.print(f"[red]failed[/red] {outcome.model_id}/{outcome.benchmark}: {outcome.error}", highlight=False)


# -- data --------------------------------------------------------------------------------------


@data_app.command("pull")
def data_pull(
    benchmarks: Benchmarks = DEFAULT_BENCHMARKS,
    truthfulqa_version: TruthfulQAVersion = "2025",
    livebench_release: LiveBenchRelease = "2024-11-25",
    livebench_tasks: LiveBenchTasks = None,
) -> None:
    """Download every hub file the benchmarks need into rayeval's cache."""
    from rayeval.data import DataSource

    data = DataSource()
    options = _benchmark_options(truthfulqa_version, livebench_release, livebench_tasks)
    for bench in _benchmarks(benchmarks):
        bench.pull(data, options)
    for path in sorted(data.used):
        out.print(path)


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 2."""
    from rayeval.errors import RayevalError

    try:
        app()
    except RayevalError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
