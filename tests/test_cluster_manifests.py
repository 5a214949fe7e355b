"""The KubeRay manifests in cluster/ validate against the real CRD schemas in ../shared."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonschema
import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
SCHEMAS = PROJECT.parent / "shared" / "schemas" / "kuberay"
MANIFESTS = {"rayjob-sweep.yaml": "ray.io_rayjobs.yaml", "raycluster.yaml": "ray.io_rayclusters.yaml"}


@functools.cache
def crd_schema(crd_file: str, version: str) -> dict:
    crd = yaml.load((SCHEMAS / crd_file).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{crd_file} has no version {version}")


@pytest.mark.parametrize("manifest, crd_file", sorted(MANIFESTS.items()))
def test_manifest_matches_kuberay_crd(manifest: str, crd_file: str) -> None:
    document = yaml.safe_load((PROJECT / "cluster" / manifest).read_text())
    group, version = document["apiVersion"].split("/")
    assert group == "ray.io"
    jsonschema.validate(document, crd_schema(crd_file, version))


def test_schema_check_is_not_vacuous() -> None:
    document = yaml.safe_load((PROJECT / "cluster" / "rayjob-sweep.yaml").read_text())
    document["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, copy.deepcopy(crd_schema("ray.io_rayjobs.yaml", "v1")))


def test_rayjob_runs_rayeval_and_keeps_the_key_out_of_the_manifest() -> None:
    text = (PROJECT / "cluster" / "rayjob-sweep.yaml").read_text()
    document = yaml.safe_load(text)
    entrypoint = document["spec"]["entrypoint"]
    assert entrypoint.startswith("rayeval --config /opt/rayeval/configs/") and " sweep /ckpts/" in entrypoint
    assert "--judge-api-key" not in text and "secretKeyRef" in text


def test_rayjob_config_is_a_real_config_of_the_image() -> None:
    """The Dockerfile copies the project to /opt/rayeval, so the entrypoint's config is ours."""
    import typer

    from rayeval.cli import app
    from rayeval.config_file import load_default_map

    entrypoint = yaml.safe_load((PROJECT / "cluster" / "rayjob-sweep.yaml").read_text())["spec"]["entrypoint"]
    referenced = {word for word in entrypoint.split() if word.startswith("/opt/rayeval/")}
    assert referenced, entrypoint
    for path in referenced:
        defaults = load_default_map(PROJECT / path.removeprefix("/opt/rayeval/"), typer.main.get_command(app))
        assert defaults["sweep"]["tp_size"] == 4 and defaults["sweep"]["skip_existing"] is True
        assert defaults["sweep"]["judge_concurrency"] == 32 and defaults["evaluate"]["judge_concurrency"] == 32
