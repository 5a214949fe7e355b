"""The sweep's background report refresher, on the shared-reference results folder (reads
../shared through `results_fixture`): requests during a rebuild merge into one more rebuild, the
last one shows every model, and a rebuild that fails is one warning line, not an exception."""

from __future__ import annotations

import shutil
from pathlib import Path

from rayeval.report.options import ReportOptions
from rayeval.report.refresher import ReportRefresher
from rayeval.store import ResultStore


def copy_of(results: ResultStore, tmp_path: Path) -> ResultStore:
    shutil.copytree(results.root, tmp_path / "results", ignore=shutil.ignore_patterns(ResultStore.REPORT))
    return ResultStore(tmp_path / "results")


def test_a_burst_of_requests_costs_at_most_two_rebuilds_and_the_page_shows_every_model(results: ResultStore, tmp_path: Path) -> None:
    store = copy_of(results, tmp_path)
    warnings: list[str] = []
    refresher = ReportRefresher(store, ReportOptions(), warnings.append)
    for _ in range(5):
        refresher.request()
    refresher.close()
    assert warnings == []
    assert 1 <= refresher.rebuilds <= 2
    page = store.report_file("report.html").read_text()
    for model_id in store.model_ids():
        assert model_id in page


def test_a_failing_rebuild_is_one_warning_and_the_next_request_still_runs(results: ResultStore, tmp_path: Path) -> None:
    store = copy_of(results, tmp_path)
    store.report_dir().write_text("a file where the report folder should be")
    warnings: list[str] = []
    refresher = ReportRefresher(store, ReportOptions(), warnings.append)
    refresher.request()
    refresher.close()
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "rayeval report" in warnings[0]
    store.report_dir().unlink()
    refresher.request()
    refresher.close()
    assert len(warnings) == 1
    assert store.report_file("report.html").is_file()
