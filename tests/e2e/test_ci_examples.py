"""The CI examples' commands run: train -> validate -> promote -> export, against a test project.

Each workflow is parsed; every `run:` (GitHub Actions) or `script:` (GitLab CI) line that is an `fti` or
`python` command runs in order, through a shell, in a checkout holding the project (embedded stores: the
workflows' store settings and secrets are not applied), with the CI's own variables set to test values.
Installing fti (pip) is skipped: this checkout's sources are used. The latency budget is raised so that no
assertion depends on the machine's speed; the check itself still runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sklearn.dummy import DummyClassifier

import fti
from tests.e2e.conftest import SRC
from tests.integration.serving_project.conftest import FEATURES, card_frames

pytestmark = [pytest.mark.e2e]

EXAMPLES = SRC.parent / "examples" / "ci"
CI_VARIABLES = {
    "CI_REGISTRY_IMAGE": "registry.example.com/cards",
    "CI_COMMIT_SHORT_SHA": "abc1234",
    "CI_COMMIT_BRANCH": "main",
    "CI_DEFAULT_BRANCH": "main",
}
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _checkout(tmp_path: Path) -> Path:
    """A checkout: the example files, and a project whose deployment 'fraud' serves a weak champion."""
    root = tmp_path / "checkout"
    shutil.copytree(EXAMPLES, root / "examples" / "ci")
    cards_frame, labels_frame = card_frames()
    with fti.connect(root) as project:
        cards = project.create_feature_group("card_activity", primary_key=["cc_num"], event_time="ts", online=True)
        labels = project.create_feature_group("fraud_labels", primary_key=["cc_num"], event_time="ts")
        cards.insert(cards_frame)
        labels.insert(labels_frame)
        view = project.create_feature_view(
            "fraud", query=labels.select(["is_fraud"]).join(cards.select(FEATURES)), labels=["is_fraud"]
        )
        td = view.create_training_data(split={"train": 0.8, "test": 0.2}, split_by="time")
        project.train(td, DummyClassifier(strategy="prior"), register="fraud-detector")
        project.get_model("fraud-detector:1").set_alias("champion")
        project.deploy("fraud", "fraud-detector@champion", feature_view="fraud")
    return root


def _github_lines(workflow: dict[str, object]) -> list[str]:
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    steps = [step for job in jobs.values() for step in job["steps"]]
    return [line for step in steps if "run" in step for line in str(step["run"]).splitlines()]


def _gitlab_lines(pipeline: dict[str, object]) -> list[str]:
    stages = pipeline["stages"]
    assert isinstance(stages, list)
    jobs = [job for job in pipeline.values() if isinstance(job, dict) and "stage" in job]
    ordered = sorted(jobs, key=lambda job: stages.index(job["stage"]))
    return [line for job in ordered for line in job["script"]]


def _run(lines: list[str], root: Path) -> list[str]:
    ran = []
    env = {**os.environ, **CI_VARIABLES, "PYTHONPATH": str(SRC), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("FTI_DEBUG", None)
    for line in lines:
        command = _EXPRESSION.sub(lambda match: match.group(1).replace(".", "-"), line.strip())
        if command.split(" ", 1)[0] not in ("fti", "python"):
            continue
        # the latency budget is a measurement: the test keeps the check but not the number (no timed assertions)
        command = re.sub(r"--max-latency-ms \S+", "--max-latency-ms 60000", command)
        command = re.sub(r"^fti ", f"{sys.executable} -m fti ", command)
        command = re.sub(r"^python ", f"{sys.executable} ", command)
        result = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        ran.append(line.split()[:3])
    return [" ".join(words) for words in ran]


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_ci_example_trains_gates_promotes_and_exports(example: str, tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    parsed = yaml.safe_load((EXAMPLES / example).read_text())
    lines = _github_lines(parsed) if example.startswith("github") else _gitlab_lines(parsed)
    ran = _run(lines, root)
    assert ran == [
        "fti train examples/ci/train.yaml",
        "fti models validate",
        "fti models promote",
        "fti deployments export",
    ]
    with fti.connect(root) as project:
        assert project.get_model("fraud-detector@champion").version == 2
    manifest = yaml.safe_load((root / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    image = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    expected = "registry.example.com/cards/fraud:abc1234" if example == "gitlab-ci.yml" else "ghcr.io/"
    assert image.startswith(expected)
