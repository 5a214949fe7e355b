"""Engine layout from what fits on each node (pure: no Ray)."""

from __future__ import annotations

import pytest

from rayeval.config import EngineConfig
from rayeval.engine.placement import (
    AUTOSCALING_PLACEMENT_TIMEOUT_S,
    PLACEMENT_TIMEOUT_S,
    choose_layout,
    cluster_autoscales,
    engines_that_fit,
    set_aside,
)
from rayeval.errors import RayevalError


@pytest.mark.parametrize(
    ("node_gpus", "tp", "expected"),
    [([6, 6], 4, 2), ([8], 4, 2), ([8, 2], 2, 5), ([8, 2], 4, 2), ([2, 2], 4, 0), ([], 1, 0), ([0, 0], 1, 0), ([6.0, 6.0], 4, 2)],
)
def test_engines_that_fit_count_per_node(node_gpus: list[float], tp: int, expected: int) -> None:
    assert engines_that_fit(node_gpus, tp) == expected


def test_two_nodes_of_six_gpus_hold_two_tp4_engines_not_three() -> None:
    layout = choose_layout(EngineConfig(tp_size=4), None, [6.0, 6.0])
    assert (layout.num_engines, layout.tp_size, layout.use_gpu, layout.autoscaling) == (2, 4, True, False)


def test_one_node_of_eight_and_uneven_nodes() -> None:
    assert choose_layout(EngineConfig(tp_size=4), None, [8]).num_engines == 2
    assert choose_layout(EngineConfig(tp_size=2), None, [8, 2]).num_engines == 5


def test_explicit_num_engines_that_fits_is_kept() -> None:
    assert choose_layout(EngineConfig(tp_size=4), 1, [6, 6]).num_engines == 1
    assert choose_layout(EngineConfig(tp_size=4), 2, [6, 6]).num_engines == 2


def test_too_many_engines_is_one_line_error_naming_the_options() -> None:
    with pytest.raises(RayevalError) as caught:
        choose_layout(EngineConfig(tp_size=4), 3, [6, 6])
    message = str(caught.value)
    assert "\n" not in message
    assert "⟨run.num_engines⟩ 3" in message and "⟨engine.tp_size⟩ 4" in message
    assert "⟨run.num_engines⟩ 2 or fewer" in message and "6, 6" in message


def test_tp_larger_than_every_node_is_an_error() -> None:
    with pytest.raises(RayevalError, match=r"⟨engine.tp_size⟩ 8 needs 8 GPUs on one node but the largest node has 6"):
        choose_layout(EngineConfig(tp_size=8), None, [6, 6])


def test_autoscaling_plans_the_engines_asked_for() -> None:
    layout = choose_layout(EngineConfig(tp_size=4), 5, [6, 6], autoscaling=True)
    assert (layout.num_engines, layout.use_gpu, layout.autoscaling) == (5, True, True)
    assert layout.placement_timeout_s == AUTOSCALING_PLACEMENT_TIMEOUT_S
    assert "autoscaling" in layout.describe()
    # without a number: what fits now (at least one), the autoscaler adds the rest on demand
    assert choose_layout(EngineConfig(tp_size=4), None, [6, 6], autoscaling=True).num_engines == 2
    assert choose_layout(EngineConfig(tp_size=8), None, [6], autoscaling=True).num_engines == 1


def test_static_layout_keeps_the_short_placement_timeout() -> None:
    assert choose_layout(EngineConfig(), None, [1]).placement_timeout_s == PLACEMENT_TIMEOUT_S


def test_auto_without_gpus_runs_on_cpu() -> None:
    layout = choose_layout(EngineConfig(tp_size=2), None, [0, 0])
    assert (layout.num_engines, layout.tp_size, layout.use_gpu) == (1, 2, False)
    assert choose_layout(EngineConfig(), 3, []).num_engines == 3


def test_auto_without_gpus_on_an_autoscaling_cluster_asks_for_a_device() -> None:
    with pytest.raises(RayevalError) as caught:
        choose_layout(EngineConfig(), None, [0], autoscaling=True)
    message = str(caught.value)
    assert "\n" not in message
    assert "GPU workers may still be starting" in message
    assert "⟨engine.device⟩ cpu" in message and "⟨engine.device⟩ gpu" in message


def test_cpu_plans_cpu_engines_even_on_gpu_nodes() -> None:
    layout = choose_layout(EngineConfig(tp_size=4, device="cpu"), None, [8, 8])
    assert (layout.num_engines, layout.use_gpu) == (1, False)
    assert choose_layout(EngineConfig(device="cpu"), 4, [0], autoscaling=True).num_engines == 4


def test_gpu_requires_gpus() -> None:
    with pytest.raises(RayevalError, match=r"⟨engine.device⟩ gpu but the cluster has no GPUs") as caught:
        choose_layout(EngineConfig(device="gpu"), None, [0, 0])
    assert "\n" not in str(caught.value)
    layout = choose_layout(EngineConfig(tp_size=2, device="gpu"), None, [4])
    assert (layout.num_engines, layout.use_gpu) == (2, True)


def test_gpu_on_an_autoscaling_cluster_waits_for_gpu_workers() -> None:
    layout = choose_layout(EngineConfig(tp_size=2, device="gpu"), None, [0], autoscaling=True)
    assert (layout.num_engines, layout.use_gpu, layout.autoscaling) == (1, True, True)
    assert choose_layout(EngineConfig(tp_size=2, device="gpu"), 3, [0], autoscaling=True).num_engines == 3


def test_device_option_is_validated() -> None:
    with pytest.raises(ValueError):
        EngineConfig(device="tpu")  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), (None, False)])
def test_autoscaling_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool) -> None:
    if value is None:
        monkeypatch.delenv("RAYEVAL_AUTOSCALING", raising=False)
    else:
        monkeypatch.setenv("RAYEVAL_AUTOSCALING", value)
    assert cluster_autoscales() is expected


@pytest.mark.parametrize(
    ("node_gpus", "groups", "left"),
    [([6, 6], [2], [4, 6]), ([8], [4, 2], [2]), ([6, 6], [4, 4], [2, 2]), ([4], [8], None), ([2, 2], [1, 1, 1], [0, 1]), ([], [1], None)],
)
def test_set_aside_places_each_judge_replica_on_one_node(node_gpus: list[float], groups: list[int], left: list[float] | None) -> None:
    assert set_aside(node_gpus, groups) == left


@pytest.mark.parametrize(
    ("node_gpus", "tp", "num_engines", "groups", "expected"),
    [
        ([6, 6], 4, None, [2], (2, True)),  # the judge takes GPUs no engine could use
        ([8], 4, None, [4], (1, True)),  # one engine fewer, and the judge runs beside it
        ([4], 4, None, [1], (1, False)),  # no engine would be left: the judge waits for the engine
        ([8], 4, 2, [4], (2, False)),  # the engines asked for come first
        ([8, 8], 1, None, [2, 2], (12, True)),
    ],
)
def test_in_cluster_judges_get_room_when_the_engines_still_fit(
    node_gpus: list[float], tp: int, num_engines: int | None, groups: list[int], expected: tuple[int, bool]
) -> None:
    layout = choose_layout(EngineConfig(tp_size=tp), num_engines, node_gpus, judge_groups=groups)
    assert (layout.num_engines, layout.judge_room) == expected


def test_cpu_engines_leave_no_judge_room() -> None:
    assert not choose_layout(EngineConfig(device="cpu"), None, [0], judge_groups=[1]).judge_room
