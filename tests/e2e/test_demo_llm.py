"""``fti demo llm --fast`` runs the LLM workflow end to end: data, base model, LoRA, evaluation, serving, and
the feedback loop (feedback, DPO, A/B test) and a neighbours search over the task's prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

import fti
from tests.e2e.conftest import RunCli

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("llm")]


def test_the_fast_llm_demo_fine_tunes_registers_and_answers_through_the_openai_client(
    run_cli: RunCli, tmp_path: Path
) -> None:
    folder = tmp_path / "llm-demo"
    result = run_cli("demo", "llm", "--fast", "--keep", str(folder), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "perplexity" in result.stdout and "GET /v1/models: code_writer" in result.stdout
    with fti.connect(folder) as project:
        version = project.get_model("code-writer@champion")
        assert version.lineage().base_model == "tiny-gpt2:1"
        assert version.metrics["perplexity"] < version.metrics["base_perplexity"]
        assert [deployment.name for deployment in project.deployments()] == ["code_writer"]
        # the feedback loop: feedback over HTTP, a DPO round registered as the challenger, an A/B test
        challenger = project.get_model("code-writer@challenger")
        assert challenger.version == 2 and challenger.lineage().feature_view == ("feedback", 1)
        feedback = project.feedback("code_writer")
        assert feedback["preferred"].notna().sum() == 24 and feedback["rating"].notna().sum() == 16
        assert set(feedback["model_version"]) == {1, 2}
        assert "DPO on" in result.stdout and "Welch p=" in result.stdout
        assert "Prompts nearest to 'Return the number of items in a list.'" in result.stdout
        assert len(project.get_feature_group("task_prompts").find_neighbors("Close the file.", k=2)) == 2
