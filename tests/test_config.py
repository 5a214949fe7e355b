"""Run settings: the memory share handed to vLLM, eager or CUDA graphs."""

from __future__ import annotations

import pytest

from rayeval.config import EngineConfig


@pytest.mark.parametrize(("tp", "expected"), [(1, 0.3), (2, 0.15), (4, 0.075)])
def test_cpu_default_memory_share_is_split_between_ranks(tp: int, expected: float) -> None:
    """On CPU every tp rank reserves its share of the same host memory."""
    assert EngineConfig(tp_size=tp).memory_fraction(on_gpu=False) == pytest.approx(expected)


def test_gpu_default_is_per_device_and_an_explicit_value_is_kept() -> None:
    assert EngineConfig(tp_size=4).memory_fraction(on_gpu=True) == 0.85
    assert EngineConfig(tp_size=2, gpu_memory_utilization=0.5).memory_fraction(on_gpu=False) == 0.5


def test_eager_on_cpu_graphs_on_gpu_unless_set() -> None:
    """The engine and the bench scripts' bare vLLM take this one decision."""
    assert EngineConfig().eager(on_gpu=False) is True and EngineConfig().eager(on_gpu=True) is False
    assert EngineConfig(enforce_eager=True).eager(on_gpu=True) is True
    assert EngineConfig(enforce_eager=False).eager(on_gpu=False) is False
