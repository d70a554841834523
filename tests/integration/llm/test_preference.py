"""Preference tuning with DPO on feedback about logged answers: margins rise on held-out prompts, lineage kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import fti
from fti.errors import ValidationError
from fti.inference_log import LogRecord, to_table

pytestmark = pytest.mark.xdist_group("llm")

STEPS = 30


def _log_answers(project: fti.Project, prompts: list[str], responses: list[str]) -> list[str]:
    """Log one answered request of 'writer' per prompt, as the model server does; returns their request ids."""
    ids = [uuid.uuid4().hex for _ in prompts]
    now = datetime.now(UTC)
    answered = pd.DataFrame({"prompt": prompts, "response": responses})
    records = [
        LogRecord(
            request_id,
            now,
            "writer",
            "tiny-gpt2:1",
            "tiny-gpt2",
            1,
            answered.iloc[[row]],
            np.array([np.nan]),
            5.0,
            False,
        )
        for row, request_id in enumerate(ids)
    ]
    project.inference_log.write(to_table(records))
    return ids


def test_dpo_raises_the_held_out_margin_and_registers_a_version_with_lineage_to_the_feedback(
    llm_project: fti.Project, pairs: pd.DataFrame
) -> None:
    # The answers people rejected are the code in capitals; they preferred the code as written.
    rows = pairs.head(60)
    prompts = list(rows["prompt"])
    ids = _log_answers(llm_project, prompts, [code.upper() for code in rows["response"]])
    commit = llm_project.log_feedback("writer", {"request_id": ids, "preferred": list(rows["response"])}).commit

    tuned = llm_project.preference_tune(
        "tiny-gpt2:1", feedback="writer", register="tiny-gpt2-dpo", beta=0.1, max_steps=STEPS, batch_size=8,
        learning_rate=5e-3, on_long="truncate", max_length=128, progress=False,
    )  # fmt: skip

    metrics = tuned.metrics
    assert metrics["logp_margin"] > metrics["base_logp_margin"] + 1.0
    assert metrics["eval_reward_accuracy"] > 0.5 and metrics["eval_reward_margin"] > 0
    run = llm_project.get_run(tuned.run_id)
    assert list(run.metric_history("reward_margin")["step"]) == list(range(1, STEPS + 1))
    assert len(run.metric_history("reward_accuracy")) == STEPS
    assert run.params["preference_method"] == "dpo" and int(run.params["pairs_test"]) > 0
    version = tuned.version
    assert version.name == "tiny-gpt2-dpo"
    lineage = version.lineage()
    assert lineage.base_model == "tiny-gpt2:1"
    assert lineage.feature_view == ("feedback", 1)
    assert any(item.name == "feedback" and item.commit >= commit for item in lineage.feature_group_commits)
    assert isinstance(version.load().generate(prompts[0], max_new_tokens=4), str)


def test_ratings_become_pairs_by_prompt() -> None:
    feedback = pd.DataFrame(
        {
            "prompt": ["p", "p", "p", "q", "r", "r"],
            "response": ["best", "worst", "middle", "alone", "tie", "tie too"],
            "rating": [1.0, 0.0, 0.5, 1.0, 0.5, 0.5],
        }
    )
    found = fti.llm.preference_pairs(feedback)
    assert set(map(tuple, found.to_numpy())) == {
        ("p", "best", "worst"),
        ("p", "best", "middle"),
        ("p", "middle", "worst"),
    }


def test_preference_tuning_without_pairs_or_with_another_method_is_refused(llm_project: fti.Project) -> None:
    rated = pd.DataFrame({"prompt": ["p"], "response": ["only"], "rating": [1.0]})
    with pytest.raises(ValidationError, match="No preference pairs"):
        llm_project.preference_tune("tiny-gpt2:1", feedback=rated, max_steps=1, progress=False)
    with pytest.raises(ValidationError, match="must be 'dpo'"):
        llm_project.preference_tune("tiny-gpt2:1", feedback=rated, method="ppo")
