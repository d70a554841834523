"""`fti deployments export`: the Docker build context and the Kubernetes manifests, validated offline.

Kubernetes objects are validated with kubernetes-validate's bundled OpenAPI schemas (strict: unknown fields
fail); ServiceMonitor and PrometheusRule against the structural schemas in ``prometheus_operator``. No
Docker engine runs here: the Dockerfile is parsed and checked (base image, what it installs, what it runs,
what it copies), never built.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import numpy as np
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.config import load_config
from fti.deploy.export import ExportOptions, export_deployment
from fti.errors import ConflictError, NotFoundError, ValidationError
from tests.integration.deploy.prometheus_operator import PROMETHEUS_RULE, SERVICE_MONITOR
from tests.integration.serving_project.conftest import FEATURES, build_project

KUBERNETES = "1.30.0"
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving project (deployment 'ab': two variants, a shadow, a feature view) with an fti.yaml that
    names its stores by absolute path, as a shared catalog would be named."""
    path = tmp_path_factory.mktemp("export")
    data = path / ".fti"
    (path / "fti.yaml").write_text(
        f"project: cards\ncatalog:\n  url: sqlite:///{data}/catalog.db\noffline_store:\n  uri: {data}/offline\n"
        f"online_store:\n  path: {data}/online.db\nserving:\n  batch_max_rows: 128\n"
    )
    build_project(path)
    return path


def _objects(out: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted((out / "kubernetes").glob("*.yaml"))}


def test_kubernetes_export_passes_the_kubernetes_schemas(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = runner.invoke(
        app,
        ["deployments", "export", "ab", "--target", "kubernetes", "--out", str(out), "--image", "registry/ab:1",
         "--namespace", "fraud", "--project", str(folder)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    objects = _objects(out)
    assert sorted(objects) == [
        "configmap.yaml", "deployment.yaml", "drift-cronjob.yaml", "hpa.yaml", "pdb.yaml", "prometheusrule.yaml",
        "service.yaml", "servicemonitor.yaml",
    ]  # fmt: skip
    for name, body in objects.items():
        if body["apiVersion"].startswith("monitoring.coreos.com"):
            jsonschema.validate(body, SERVICE_MONITOR if body["kind"] == "ServiceMonitor" else PROMETHEUS_RULE)
        else:
            kubernetes_validate.validate(body, KUBERNETES, strict=True)
        assert body["metadata"]["namespace"] == "fraud", name


def test_the_manifests_fit_together(folder: Path, tmp_path: Path) -> None:
    with fti.connect(folder) as project:
        export_deployment(project, "ab", "kubernetes", tmp_path / "k8s")
    objects = _objects(tmp_path / "k8s")
    deployment = objects["deployment.yaml"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    labels = pod["metadata"]["labels"]
    for selector in (
        objects["service.yaml"]["spec"]["selector"],
        objects["pdb.yaml"]["spec"]["selector"]["matchLabels"],
        objects["servicemonitor.yaml"]["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    drift_pod = objects["drift-cronjob.yaml"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert not objects["service.yaml"]["spec"]["selector"].items() <= drift_pod.items()
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["envFrom"] == [{"secretRef": {"name": "fti-ab-secrets"}}]
    assert container["image"] == "fti-ab:latest"
    hpa = objects["hpa.yaml"]["spec"]
    assert [metric["type"] for metric in hpa["metrics"]] == ["Resource", "Pods"]
    assert hpa["metrics"][1]["pods"]["metric"]["name"] == "fti_requests_per_second"
    config = yaml.safe_load(objects["configmap.yaml"]["data"]["fti.yaml"])
    assert config["serving"] == {"batch_max_rows": 128, "host": "0.0.0.0", "port": 8080, "deployments": ["ab"]}
    alerts = [rule["alert"] for rule in objects["prometheusrule.yaml"]["spec"]["groups"][0]["rules"]]
    assert alerts == ["FtiAbHighErrorRate", "FtiAbHighP99Latency", "FtiAbDrift"]
    command = objects["drift-cronjob.yaml"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ]
    assert command[:5] == ["fti", "monitor", "check", "ab", "--window"] and "--fail-on-drift" in command


def test_the_validators_reject_broken_manifests(folder: Path, tmp_path: Path) -> None:
    with fti.connect(folder) as project:
        export_deployment(project, "ab", "kubernetes", tmp_path / "k8s")
    objects = _objects(tmp_path / "k8s")
    broken = copy.deepcopy(objects["deployment.yaml"])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    misspelled = copy.deepcopy(objects["hpa.yaml"])
    misspelled["spec"]["maxReplica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelled, KUBERNETES, strict=True)
    rule = copy.deepcopy(objects["prometheusrule.yaml"])
    del rule["spec"]["groups"][0]["rules"][0]["expr"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, PROMETHEUS_RULE)
    monitor = copy.deepcopy(objects["servicemonitor.yaml"])
    monitor["spec"]["endpoints"][0]["interval"] = "thirty seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, SERVICE_MONITOR)


def test_the_dockerfile_installs_fti_serve_and_runs_fti_serve(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "docker"
    with fti.connect(folder) as project:
        result = export_deployment(project, "ab", "docker", out)
    assert set(result.files) == {"Dockerfile", "README.md", "fti.yaml", "requirements.txt"}
    parser = DockerfileParser(path=str(out / "Dockerfile"))
    assert parser.baseimage.startswith("python:") and parser.baseimage.endswith("-slim")
    instructions = [(item["instruction"], item["value"]) for item in parser.structure]
    argument = next(value for kind, value in instructions if kind == "ARG")
    assert argument.startswith('FTI_PACKAGE="fti[serve,')
    assert ("RUN", 'pip install "$FTI_PACKAGE" -r /app/requirements.txt') in instructions
    assert ("USER", "10001") in instructions
    assert instructions[-1] == ("CMD", '["fti", "serve", "--project", "/app"]')
    for kind, value in instructions:
        if kind == "COPY":
            assert (out / value.split()[0]).exists(), value
    assert "scikit-learn==" in (out / "requirements.txt").read_text()
    config = load_config(out / "fti.yaml")
    assert config.config.serving.deployments == ["ab"] and config.config.serving.host == "0.0.0.0"
    assert result.warnings == ("artifact_store is the embedded default (.fti/artifacts): the container gets its own "
                               "empty copy unless you mount it; configure a shared one in fti.yaml (PostgreSQL, S3, "
                               "Redis) for more than one container.",)  # fmt: skip


def test_baked_models_load_from_the_image_folder(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "baked"
    with fti.connect(folder) as project:
        result = export_deployment(project, "ab", "docker", out, ExportOptions(bake_models=True))
        expected = project.get_model("fraud@champion").predict(
            project.get_feature_view("fraud").get_training_dataset(1).test[0]
        )
    assert result.warnings == ()
    assert any(name.startswith("models/runs/") and name.endswith("model.joblib") for name in result.files)
    assert "COPY models/ /app/models/" in (out / "Dockerfile").read_text() and (out / "models" / "runs").is_dir()
    with fti.connect(out) as image:  # the image's fti.yaml: the shared catalog, the baked files
        assert image.settings.config.artifact_store.uri == "models"
        features = image.get_feature_view("fraud").get_training_dataset(1).test[0]
        np.testing.assert_array_equal(image.get_model("fraud@champion").predict(features[FEATURES]), expected)


def test_settings_from_the_environment_stay_out_of_the_image(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTI_SERVING_SEED", "7")
    with fti.connect(folder) as project:
        result = export_deployment(project, "ab", "docker", tmp_path / "out")
    assert result.secret_keys == ("FTI_SERVING_SEED",)
    assert "seed" not in yaml.safe_load((tmp_path / "out" / "fti.yaml").read_text())["serving"]
    assert "FTI_SERVING_SEED=..." in (tmp_path / "out" / "README.md").read_text()


def test_bad_exports_write_nothing(folder: Path, tmp_path: Path) -> None:
    with fti.connect(folder) as project:
        with pytest.raises(NotFoundError, match=r"Deployment 'nope' does not exist \(deployments: ab\)"):
            export_deployment(project, "nope", "docker", tmp_path / "nope")
        assert not (tmp_path / "nope").exists()
        with pytest.raises(ValidationError, match="Unknown export target 'helm': use one of docker, kubernetes."):
            export_deployment(project, "ab", "helm", tmp_path / "helm")
        taken = tmp_path / "taken"
        taken.mkdir()
        (taken / "keep.txt").write_text("mine")
        with pytest.raises(ConflictError, match="it exists and is not empty"):
            export_deployment(project, "ab", "docker", taken)
        assert [path.name for path in taken.iterdir()] == ["keep.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]  # no temporary folder left behind
    result = runner.invoke(app, ["deployments", "export", "nope", "--target", "docker", "--project", str(folder)])
    assert isinstance(result.exception, NotFoundError)
