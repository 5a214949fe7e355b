"""The `rayeval` command line.

The commands' options are generated from the typed option models (`rayeval.cli_options`). At
module level only typer, pydantic and the light benchmark specs are imported, so `rayeval --help`
answers at once (target < 0.5 s: bench/bench_startup.py); rich is imported on first output, and
every command imports what it needs (ray, vLLM, the scorers) when it runs.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rayeval.cli_options import PanelledCommand, flag, render_refs, settings_over, with_options
from rayeval.run_file import RUN_PHASES, Phase
from rayeval.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from rayeval.benchmarks.base import Benchmark
    from rayeval.engine.actor import EngineFactory
    from rayeval.evaluation import EvalOutcome
    from rayeval.generation import GenerateRequest
    from rayeval.models import ModelSpec
    from rayeval.plan import Plan
    from rayeval.scheduler import RunReport
    from rayeval.sweep import Watching

    Planner = Callable[[GenerateRequest, Any, Any, Any], Plan]
    """`generation.plan_generation` or `sweep.plan_sweep`: (request, data, store, layout) -> Plan."""

app = typer.Typer(
    name="rayeval",
    help="Evaluate LLM checkpoints on IFEval, TruthfulQA, AlpacaEval 2 and LiveBench with vLLM on Ray.",
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Benchmark data: fetch it ahead of time for air-gapped clusters.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")


@functools.cache
def _console(stderr: bool) -> Console:
    """Made on first output: `rayeval --help` never imports rich (~50 ms of its start-up)."""
    from rich.console import Console

    return Console(stderr=stderr)


def out() -> Console:
    """Where results go (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """Where progress, warnings and errors go (stderr)."""
    return _console(stderr=True)


def escape(text: str) -> str:
    """`text` shown as written inside rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _show_version(value: bool) -> None:
    if value:
        from rayeval import __version__

        out().print(f"rayeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "-c", "--config", envvar="RAYEVAL_CONFIG", help="YAML file of option defaults (see configs/); command-line options win."
        ),
    ] = None,
) -> None:
    """Evaluate LLM checkpoints on IFEval, TruthfulQA, AlpacaEval 2 and LiveBench with vLLM on Ray."""
    if config is not None:
        from rayeval.config_file import load_default_map

        ctx.default_map = load_default_map(config, ctx.command)


# -- generate ----------------------------------------------------------------------------------

ModelInputs = Annotated[
    list[str],
    typer.Argument(
        help="Model folder, folder of checkpoint-*/step-* subfolders, folder of model folders, hub id org/name, or builtin:smollm2."
    ),
]


@app.command(cls=PanelledCommand)
@with_options("generate")
def generate(model_inputs: ModelInputs, settings: Settings) -> None:
    """Generate benchmark responses for one model, many models or a folder of checkpoints."""
    if _generate(*_request(model_inputs, settings)):
        raise typer.Exit(1)


def _generate(request: GenerateRequest, skipped_folders: list[tuple[Path, str]], engine_factory: EngineFactory | None = None) -> bool:
    """`generate`'s work on a resolved request; True when a model failed."""
    from rayeval.generation import plan_generation, run_generation
    from rayeval.progress import ConsoleProgress

    started = _start(request, skipped_folders, plan_generation)
    if started is None:
        return False
    store, data, layout, plan, failed = started
    for model_id, bench in plan.skipped:
        err().print(f"skip {model_id}/{bench}: output exists ({flag('run.skip_existing')})")
    if not plan.work:
        err().print("nothing to generate")
        _print_failed_models(failed)
        return bool(failed)
    err().print(
        f"generating {sum(w.num_requests for w in plan.work)} prompts for {len({w.model.id for w in plan.work})} model(s) on {layout.describe()}"
    )
    with ConsoleProgress(err()) as progress:
        report = run_generation(request, plan, data, store, layout, progress, engine_factory=engine_factory)
    report.failed_models.update(failed)
    _print_generation_report(report, store)
    return bool(report.failed_models or report.incomplete)


@app.command(cls=PanelledCommand)
@with_options("generate", "evaluate", "sweep")
def sweep(model_inputs: ModelInputs, settings: Settings) -> None:
    """Generate, score and judge every model or checkpoint in one job: each (model, benchmark) is
    scored as soon as its generation is written, all judge calls share one judge service, one
    failure never stops the rest, and a rerun redoes only what is missing. With --watch it then
    follows the run folders and evaluates each new checkpoint once it is complete."""
    watching = None
    if settings.sweep.watch:
        request, skipped_folders, watching = _watched(model_inputs, settings)
    else:
        request, skipped_folders = _request(model_inputs, settings)
    if _sweep(request, skipped_folders, watching=watching):
        raise typer.Exit(1)


def _sweep(
    request: GenerateRequest,
    skipped_folders: list[tuple[Path, str]],
    engine_factory: EngineFactory | None = None,
    watching: Watching | None = None,
) -> bool:
    """`sweep`'s work on a resolved request (then, with `watching`, on each new checkpoint);
    True when anything failed."""
    from rayeval.progress import ConsoleProgress
    from rayeval.sweep import in_cluster_judge_groups, plan_sweep, run_sweep

    started = _start(request, skipped_folders, plan_sweep, in_cluster_judge_groups(request))
    if started is None:
        return False
    store, data, layout, plan, failed = started
    err().print(
        f"sweeping {len(plan.models)} model(s) × {len(plan.benchmarks)} benchmark(s): "
        f"{sum(w.num_requests for w in plan.work)} prompts to generate on {layout.describe()}, {len(plan.skipped)} pair(s) already generated"
    )
    if watching is not None:
        until = watching.until.describe() if watching.until else f"Ctrl-C (no {flag('sweep.watch_until')} given)"
        err().print(f"then watching {', '.join(watching.watcher.model_inputs)} for new checkpoints until {until}", highlight=False)
    with ConsoleProgress(err()) as progress:
        report = run_sweep(request, plan, data, store, layout, progress, engine_factory=engine_factory, watching=watching)
    report.generation.failed_models.update(failed)
    _print_generation_report(report.generation, store)
    _print_warnings(report.outcomes)
    _print_sweep_table(report.models, plan.benchmarks, store)
    failures = report.failures()
    if failures:
        _print_failures(failures)
    return bool(failures)


def _watched(model_inputs: list[str], settings: Settings) -> tuple[GenerateRequest, list[tuple[Path, str]], Watching]:
    """For `--watch`: the request for the checkpoints ready now, the folders discovery skipped,
    and how to follow the run folders afterwards. Checkpoints still being written are waited for."""
    from rayeval.generation import GenerateRequest
    from rayeval.sweep import Watching
    from rayeval.watch import CheckpointWatcher, ReadinessRules, check_watchable

    options = settings.sweep
    check_watchable(model_inputs)
    watcher = CheckpointWatcher(model_inputs, ReadinessRules(options.watch_settle_s, options.watch_marker))
    poll = watcher.poll()
    for line in watcher.news(poll):
        err().print(line, highlight=False)
    request = GenerateRequest(models=poll.ready, benchmarks=_benchmarks(settings), settings=settings)
    return request, poll.skipped, Watching(watcher, options.watch_until, options.watch_poll_s)


def _request(model_inputs: list[str], settings: Settings) -> tuple[GenerateRequest, list[tuple[Path, str]]]:
    """The generation request, and the folders model discovery skipped (with reasons)."""
    from rayeval.generation import GenerateRequest
    from rayeval.models import resolve_models_with_skips

    discovery = resolve_models_with_skips(model_inputs, api_key_env=settings.api.key_env)
    return GenerateRequest(models=discovery.models, benchmarks=_benchmarks(settings), settings=settings), discovery.skipped


def _benchmarks(settings: Settings) -> list[Benchmark[Any]]:
    from rayeval.benchmarks import parse_list

    return parse_list(settings.run.benchmarks)


def _start(
    request: GenerateRequest, skipped_folders: list[tuple[Path, str]], planner: Planner, judge_groups: list[int] | None = None
) -> tuple[Any, Any, Any, Plan, dict[str, str]] | None:
    """Checks, layout and plan (`planner(request, data, store, layout)`), and the models that
    failed the engine-free checks (`rayeval.preflight`; dropped from `request`). On `--dry-run`
    print them with the skipped folders and return None (exit 1 when a model failed), else
    connect to Ray first. `judge_groups`: GPUs to leave for in-cluster judges (see `choose_layout`)."""
    from rayeval.data import DataSource
    from rayeval.engine.placement import choose_layout, cluster_autoscales
    from rayeval.preflight import cluster_node_cpus, model_problems
    from rayeval.ray_session import connect, local_gpu_count
    from rayeval.store import ResultStore

    run = request.settings.run
    store = ResultStore(run.results_dir)
    data = DataSource(run.data_dir)
    address, num_engines = run.address, run.num_engines
    local = not (address or os.environ.get("RAY_ADDRESS"))
    store.check_writable(keep=not run.dry_run)
    found = request.models
    failed = model_problems(found, request.engine)
    request.models = [model for model in found if model.id not in failed]
    if run.dry_run:
        node_gpus = [float(local_gpu_count())] if local else _cluster_node_gpus(address)
        layout = choose_layout(request.engine, num_engines, node_gpus, autoscaling=cluster_autoscales(), judge_groups=judge_groups or [])
        _check_cpu_fit(request, layout, [float(len(os.sched_getaffinity(0)))] if local else cluster_node_cpus())
        _print_plan(planner(request, data, store, layout), layout, store, skipped_folders)
        _print_failed_models(failed)
        if failed:
            raise typer.Exit(1)
        return None
    for model in found:
        if model.id in failed:  # recorded as the scheduler records a model that fails to load
            store.update_manifest(model.id, {"model": model.manifest(), "error": failed[model.id]})
    connect(address)
    layout = choose_layout(
        request.engine, num_engines, _cluster_node_gpus(address), autoscaling=cluster_autoscales(), judge_groups=judge_groups or []
    )
    _check_cpu_fit(request, layout, cluster_node_cpus())
    for folder, reason in skipped_folders:
        err().print(f"skip folder {folder}: {reason}", highlight=False)
    return store, data, layout, planner(request, data, store, layout), failed


def _check_cpu_fit(request: GenerateRequest, layout: Any, node_cpus: list[float]) -> None:
    """Engines on CPUs need `tp_size` cores of one node (models behind an API need none)."""
    from rayeval.preflight import check_cpu_fit

    if not layout.use_gpu and not layout.autoscaling and any(model.api is None for model in request.models):
        check_cpu_fit(layout.tp_size, node_cpus)


def _print_failed_models(failed: dict[str, str]) -> None:
    for model_id, reason in failed.items():
        err().print(f"[red]failed[/red] {model_id}: {escape(render_refs(reason))}", highlight=False, soft_wrap=True)


def _cluster_node_gpus(address: str | None) -> list[float]:
    from rayeval.engine.placement import cluster_node_gpus
    from rayeval.ray_session import connect

    connect(address)
    return cluster_node_gpus()


def _print_plan(plan: Plan, layout: Any, store: Any, skipped_folders: list[tuple[Path, str]]) -> None:
    from rich.table import Table

    table = Table(title="rayeval plan (dry run: nothing started)")
    for column in ("model id", "path", "step", "benchmarks"):
        table.add_column(column)
    for model in plan.models:
        benches = [f"{w.benchmark.name} ({w.num_requests})" for w in plan.work if w.model.id == model.id]
        benches += [f"{b} (skip: exists)" for m, b in plan.skipped if m == model.id]
        table.add_row(model.id, model.path, "" if model.step is None else str(model.step), ", ".join(benches))
    out().print(table)
    out().print("prompts per benchmark: " + ", ".join(f"{k}={v}" for k, v in plan.item_counts.items()))
    out().print(f"engines: {layout.describe()}; results: {store.root}")
    for folder, reason in skipped_folders:
        out().print(f"skipped folder {folder}: {reason}", highlight=False)


def _print_generation_report(report: RunReport, store) -> None:
    seconds = report.run_seconds
    rate = report.completion_tokens / seconds if seconds else 0.0
    err().print(
        f"done: {len(report.finished)} model/benchmark pair(s) written to {store.root}; "
        f"{report.shards_run} shard(s) run, {report.shards_resumed} resumed, {report.shards_retried} retried; "
        f"{report.model_loads} model load(s) ({report.load_seconds:.0f}s); {rate:.1f} generated tok/s per engine"
    )
    for model_id, reason in report.failed_models.items():
        err().print(f"[red]failed[/red] {model_id}: {render_refs(reason)}", highlight=False)
    for (model_id, bench), reason in report.incomplete.items():
        err().print(f"[yellow]incomplete[/yellow] {model_id}/{bench}: {escape(render_refs(reason))}", highlight=False)


# -- evaluate ----------------------------------------------------------------------------------


@app.command(cls=PanelledCommand)
@with_options("evaluate")
def evaluate(
    settings: Settings,
    model_inputs: Annotated[
        list[str] | None,
        typer.Argument(help="Model inputs as for generate, or model ids under --results-dir [default: every model there]."),
    ] = None,  # noqa: UP045
) -> None:
    """Score the generation outputs in the results folder."""
    if _evaluate(model_inputs or [], settings):
        raise typer.Exit(1)


def _evaluate(model_inputs: list[str], settings: Settings) -> bool:
    """Returns True when any evaluation failed."""
    from rayeval.evaluation import model_ids_to_score
    from rayeval.store import ResultStore

    return _score(model_ids_to_score(model_inputs, ResultStore(settings.run.results_dir)), settings)


def _score(model_ids: list[str], settings: Settings) -> bool:
    """`evaluate`'s work on the models' existing outputs; True when any evaluation failed."""
    from rayeval.evaluation import plan_evaluations, run_evaluations
    from rayeval.ray_session import connect
    from rayeval.store import ResultStore

    store = ResultStore(settings.run.results_dir)
    todo, skipped = plan_evaluations(model_ids, _benchmarks(settings), store, settings.run.skip_existing)
    for outcome in skipped:
        err().print(f"skip {outcome.model_id}/{outcome.benchmark}: {render_refs(outcome.skipped or '')}", highlight=False)
    if not todo:
        err().print("nothing to evaluate")
        return False
    store.check_writable()
    connect(settings.run.address)
    outcomes = run_evaluations(todo, store, settings)
    _print_scores(outcomes)
    return any(o.error for o in outcomes)


def _print_sweep_table(models: list[ModelSpec], benches: list[Benchmark[Any]], store: Any) -> None:
    """Models (in step order) × each benchmark's headline metrics, from the summaries files.
    Printed as wide as it needs (never with a truncated number)."""
    from rich.console import Console
    from rich.table import Table

    columns = [(bench.name, metric) for bench in benches for metric in bench.headline_metrics]
    table = Table(title="sweep: headline metrics")
    table.add_column("model", no_wrap=True)
    table.add_column("step", justify="right")
    for bench, metric in columns:
        table.add_column(f"{bench}\n{metric}", justify="right", no_wrap=True)
    for model in models:
        values = {(row.get("benchmark"), row.get("metric")): row.get("value") for row in store.read_scores(model.id)}
        cells = ["" if values.get(column) is None else f"{values[column]:.4f}" for column in columns]
        table.add_row(model.id, "" if model.step is None else str(model.step), *cells)
    needed = 4 + max([len(m.id) for m in models] + [5]) + 7 + sum(max(len(b), len(m), 6) + 3 for b, m in columns)
    Console(file=out().file, width=max(out().width, needed)).print(table)


def _print_failures(failures: list[tuple[str, str, str]]) -> None:
    from rich.table import Table

    table = Table(title="failed")
    for column in ("model", "benchmark", "reason"):
        table.add_column(column, overflow="fold")
    for model_id, bench, reason in failures:
        table.add_row(model_id, bench, escape(render_refs(reason)))
    err().print(table)


def _print_scores(outcomes: list[EvalOutcome]) -> None:
    from rich.table import Table

    table = Table(title="scores")
    for column in ("model", "benchmark", "metric", "value"):
        table.add_column(column, overflow="fold")
    for outcome in sorted(outcomes, key=lambda o: (o.model_id, o.benchmark)):
        for score in outcome.scores:
            value = "" if score.value is None else f"{score.value:.4f}"
            table.add_row(outcome.model_id, outcome.benchmark, score.metric, value)
    out().print(table)
    _print_warnings(outcomes)
    for outcome in outcomes:
        if outcome.error:
            err().print(f"[red]failed[/red] {outcome.model_id}/{outcome.benchmark}: {escape(render_refs(outcome.error))}", highlight=False)


def _print_warnings(outcomes: list[EvalOutcome]) -> None:
    for outcome in outcomes:
        for warning in outcome.warnings:
            err().print(f"[yellow]warning[/yellow] {outcome.model_id}/{outcome.benchmark}: {escape(render_refs(warning))}", highlight=False)


# -- run ---------------------------------------------------------------------------------------


@app.command("run", cls=PanelledCommand)
@with_options(*RUN_PHASES)
def run_file(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="Run file: models (served, local or hub), judge, benchmarks, option sections; see configs/run-api-models.yaml."
        ),
    ],
    settings: Settings,
    phase: Annotated[
        Phase, typer.Option("--phase", help="generate: generation only; evaluate: score existing outputs only; all: one sweep of both.")
    ] = Phase.all,
) -> None:
    """Evaluate the models a run file lists (the replaced tool's config.yaml, plus local and hub
    models) in one job; options given here win over the file."""
    from rayeval.generation import GenerateRequest
    from rayeval.run_file import load_run_file, model_specs

    contents = load_run_file(path)
    for warning in contents.warnings:
        err().print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
    settings = settings_over(contents.sections, ctx, RUN_PHASES)
    discovery = model_specs(contents, settings.api.key_env)
    request = GenerateRequest(models=discovery.models, benchmarks=_benchmarks(settings), settings=settings)
    if run_phase(phase, request, discovery.skipped):
        raise typer.Exit(1)


def run_phase(
    phase: Phase, request: GenerateRequest, skipped_folders: list[tuple[Path, str]], engine_factory: EngineFactory | None = None
) -> bool:
    """One phase of `rayeval run` on a resolved request; True when anything failed."""
    if phase is Phase.generate:
        return _generate(request, skipped_folders, engine_factory)
    if phase is Phase.evaluate:
        return _score([model.id for model in request.models], request.settings)
    return _sweep(request, skipped_folders, engine_factory)


# -- data --------------------------------------------------------------------------------------


@app.command(cls=PanelledCommand)
@with_options("report")
def report(
    settings: Settings,
    models: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[MODEL_OR_RUN]...", help="Model ids or training-run names under --results-dir [default: every scored model]."
        ),
    ] = None,  # noqa: UP045
) -> None:
    """Models × headline metrics with 95% intervals, paired tests between checkpoints, and the
    report files (report.md, report.csv, comparisons.csv, report.html, plots) in <results-dir>/report."""
    from rayeval.errors import RayevalError
    from rayeval.report.build import write_report
    from rayeval.report.console import print_comparison, print_headline
    from rayeval.report.trackers import log_to_trackers
    from rayeval.store import ResultStore

    store = ResultStore(settings.run.results_dir)
    if settings.report.compare:
        if len(models or []) != 2:
            raise RayevalError(f"{flag('report.compare')} takes exactly two models: rayeval report {flag('report.compare')} A B")
        from rayeval.report.collect import load_report

        print_comparison(out(), load_report(store, models or [], None), *(models or []))
        return
    data = write_report(store, models or [], settings.report)
    print_headline(out(), data)
    err().print(f"report: {store.report_file('report.html')} (and report.md, report.csv, comparisons.csv, plots/)", highlight=False)
    for name in log_to_trackers(data, settings.report, store.report_dir()):
        err().print(f"report: logged to {name}")


@data_app.command("pull", cls=PanelledCommand)
@with_options("data")
def data_pull(settings: Settings) -> None:
    """Download every hub file the benchmarks need into rayeval's cache."""
    from rayeval.data import DataSource

    data = DataSource()
    for bench in _benchmarks(settings):
        bench.pull(data, settings.options_for(bench.name))
    for path in sorted(data.used):
        out().print(path)


def main() -> None:
    """Console-script entry point: user errors become one line and exit code 2."""
    from rayeval.errors import RayevalError

    try:
        app()
    except RayevalError as exc:
        err().print(f"[bold red]error:[/bold red] {escape(render_refs(str(exc)))}", highlight=False, soft_wrap=True)
        sys.exit(2)
