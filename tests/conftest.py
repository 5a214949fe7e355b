"""Shared fixtures. Tests that read ../shared (the workplace's reference data) say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import SHARED


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: benchmark data in the --data-dir layout, plus reference outputs."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: these tests read the shared reference data beside the project")
    return path


@pytest.fixture(scope="module")
def ray_local():
    """A Ray of its own for the module (judge pool tests)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False)  # never attach to another session's cluster
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def standin_ray():
    """A Ray of its own for the module, running `tests/standin_engine.py`'s engines (its
    module is pickled by value: Ray's workers cannot import the tests folder); yields that module."""
    import ray
    import standin_engine

    ray.init(address="local", num_cpus=3, logging_level="ERROR", log_to_driver=False)  # never attach to another session's cluster
    ray.cloudpickle.register_pickle_by_value(standin_engine)
    yield standin_engine
    ray.shutdown()
