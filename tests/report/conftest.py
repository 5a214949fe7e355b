"""The scored results folder every report test reads (built once per session; see
`results_fixture`)."""

from __future__ import annotations

import pytest
from report.results_fixture import build_results

from rayeval.store import ResultStore


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> ResultStore:
    return build_results(tmp_path_factory.mktemp("report") / "results")
