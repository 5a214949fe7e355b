"""`rayeval report` end to end on the scored reference results (`results_fixture`, reads
../shared): the command's outputs, --compare, trackers read back offline (W&B offline mode,
MLflow file store), and report.html in a real headless chromium (Debian's, via chromedriver)."""

from __future__ import annotations

import csv
import functools
import shutil
from pathlib import Path

import pytest
from cli_runner import run_rayeval

from rayeval.store import ResultStore

PROJECT = Path(__file__).resolve().parents[2]


rayeval = functools.partial(run_rayeval, inherit_env=True, timeout=600)


@pytest.fixture(scope="module")
def reported(results: ResultStore) -> ResultStore:
    done = rayeval("report", "--results-dir", str(results.root), cwd=results.root.parent)
    assert done.returncode == 0, done.stderr
    assert "sft_checkpoint-300" in done.stdout and "≈" in done.stdout
    return results


def test_report_writes_every_file_and_its_means_are_the_scorers(reported: ResultStore) -> None:
    folder = reported.report_dir()
    for name in ("report.md", "report.csv", "comparisons.csv", "report.html"):
        assert (folder / name).stat().st_size > 0, name
    pngs = sorted(p.name for p in (folder / "plots").iterdir())
    assert pngs == sorted(
        f"{b}__{m}.png"
        for b, m in [
            ("ifeval", "prompt_level_strict_acc"),
            ("ifeval", "inst_level_strict_acc"),
            ("ifeval", "prompt_level_loose_acc"),
            ("ifeval", "inst_level_loose_acc"),
            ("truthfulqa", "bleu_acc"),
            ("truthfulqa", "rougeL_acc"),
            ("alpacaeval", "win_rate"),
            ("livebench", "overall"),
        ]
    )
    with (folder / "report.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    summaries = {(m, r["benchmark"], r["metric"]): r for m in reported.model_ids() for r in reported.read_scores(m)}
    for row in rows:
        written = summaries[(row["model"], row["benchmark"], row["metric"])]
        assert (float(row["value"]) if row["value"] else None) == written["value"]
    steps = {(r["model"], r["step"], r["kind"]) for r in rows}
    assert ("sft_checkpoint-200", "200", "checkpoint") in steps and ("gpt-4-api", "", "api") in steps
    with (folder / "comparisons.csv").open(encoding="utf-8") as handle:
        comparisons = list(csv.DictReader(handle))
    reasons = {r["reason"] for r in comparisons}
    assert reasons == {"consecutive checkpoints", "vs best of sft", "vs baseline"}
    verdicts = {r["verdict"] for r in comparisons}
    assert {"within noise", "B better"} <= verdicts
    # base (quality 0.55) → checkpoint 100 (0.70): a real rise; LiveBench 200 → 300 keeps the same answers: noise
    by = {(r["benchmark"], r["metric"], r["a"], r["b"]): r for r in comparisons}
    assert by[("ifeval", "prompt_level_strict_acc", "SmolLM2-base", "sft_checkpoint-100")]["verdict"] == "B better"
    assert by[("livebench", "overall", "sft_checkpoint-200", "sft_checkpoint-300")]["verdict"] == "within noise"
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(pngs) and "http" not in html.split("<body>", 1)[1]
    assert "instruction/punctuation:no_comma" in html and "category/reasoning" in html and "rouge1_max" in html


def test_compare_prints_the_paired_tests_and_flipped_items(results: ResultStore) -> None:
    done = rayeval("report", "--results-dir", str(results.root), "--compare", "SmolLM2-base", "sft_checkpoint-100", cwd=results.root.parent)
    assert done.returncode == 0, done.stderr
    assert "prompt_level_strict_acc" in done.stdout and "B better" in done.stdout
    assert "ifeval prompt_level_strict_acc:" in done.stdout and "items changed" in done.stdout
    bad = rayeval("report", "--results-dir", str(results.root), "--compare", "SmolLM2-base", cwd=results.root.parent)
    assert bad.returncode == 2 and "takes exactly two models" in bad.stderr
    unknown = rayeval("report", "--results-dir", str(results.root), "no-such-model", cwd=results.root.parent)
    assert unknown.returncode == 2 and "no scored model or run of that name" in unknown.stderr


def test_trackers_log_metrics_at_steps_settings_and_report_files(
    results: ResultStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both trackers for real, offline: W&B in offline mode (runs under ./wandb), MLflow in a
    file store; what was logged is read back."""
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    uri = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses new file stores unless asked
    done = rayeval(
        "report", "--results-dir", str(results.root), "--wandb-project", "rayeval-test", "--mlflow-uri", uri,
        cwd=tmp_path, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true", "MLFLOW_ALLOW_FILE_STORE": "true"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("rayeval")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"sft", "SmolLM2-base", "gpt-4-api", "rayeval-report"}
    history = client.get_metric_history(runs["sft"].info.run_id, "ifeval/prompt_level_strict_acc")
    expected = {
        s: next(r["value"] for r in results.read_scores(f"sft_checkpoint-{s}") if r["metric"] == "prompt_level_strict_acc")
        for s in (100, 200, 300)
    }
    assert {m.step: m.value for m in history} == expected
    assert runs["sft"].data.params["model.run"] == "sft" and runs["sft"].data.params["sampling.temperature"] == "0.0"
    artifacts = {a.path for a in client.list_artifacts(runs["rayeval-report"].info.run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/report.csv"} <= artifacts
    offline = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(offline) == 4
    # an offline run is a protobuf log (run-*.wandb) that `wandb sync` uploads later; the logged keys are in it
    logged = {p.name: b"".join(f.read_bytes() for f in p.glob("run-*.wandb")) for p in offline}
    assert sum(b"ifeval/prompt_level_strict_acc" in data for data in logged.values()) == 3  # sft, base, API
    assert any(b"report.html" in data for data in logged.values())


def test_report_html_renders_in_a_real_browser(reported: ResultStore, tmp_path: Path) -> None:
    """Opens report.html in headless Debian chromium (installed by scripts/setup.sh), takes a
    screenshot, and checks that tables and every image rendered with no console error."""
    driver_path, browser = shutil.which("chromedriver"), shutil.which("chromium")
    if not driver_path or not browser:
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them with apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(reported.report_file("report.html").as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
        )
        tables = driver.execute_script("return Array.from(document.querySelectorAll('table')).map(t => t.rows.length)")
        screenshot = tmp_path / "report.png"
        driver.save_screenshot(str(screenshot))
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    finally:
        driver.quit()
    assert len(images) == 8
    assert all(complete and natural > 500 and shown > 100 for _, complete, natural, shown in images), images
    assert len(tables) >= 6 and tables[0] == 6  # header + 5 models
    assert errors == []
    assert screenshot.stat().st_size > 50_000
    shutil.copy(screenshot, reported.report_dir() / "screenshot.png")  # kept beside the report for a look


def test_readme_report_option_table_matches_the_declarations() -> None:
    """Regenerate with `python -m rayeval.cli_options README.md` after changing a report option."""
    from rayeval.cli_options import TABLE_BLOCK, option_table

    blocks = {m.group(2): m.group(3).strip() for m in TABLE_BLOCK.finditer((PROJECT / "README.md").read_text(encoding="utf-8"))}
    assert blocks["report"] == option_table("report").strip()
