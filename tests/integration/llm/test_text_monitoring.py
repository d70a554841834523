"""Monitoring a text generation deployment: prompt drift against the training prompts, alerts, statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import fti
from fti.inference_log import LogRecord, to_table
from fti.monitoring.alerts import FeatureDriftRule

pytestmark = pytest.mark.xdist_group("llm")

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _log(project: fti.Project, model: tuple[str, int], answered: pd.DataFrame, at: datetime) -> list[str]:
    """Log one answered request of 'watched' per row (``prompt``, ``response``, ``latency_ms``) at ``at``."""
    ids = [uuid.uuid4().hex for _ in range(len(answered))]
    logged = answered.drop(columns=["latency_ms"]).assign(prompt_tokens=5, completion_tokens=7)
    variant, latency = f"{model[0]}:{model[1]}", answered["latency_ms"].to_numpy()
    records = [
        LogRecord(
            request_id,
            at + timedelta(seconds=row),
            "watched",
            variant,
            *model,
            logged.iloc[[row]],
            np.array([np.nan]),
            float(latency[row]),
            False,
        )
        for row, request_id in enumerate(ids)
    ]
    project.inference_log.write(to_table(records))
    return ids


def test_llm_monitoring_flags_a_shift_in_prompts(
    llm_project: fti.Project, text_data: fti.llm.TextDataset, pairs: pd.DataFrame
) -> None:
    tuned = llm_project.finetune(
        "tiny-gpt2:1", text_data, max_steps=1, eval_samples=0, on_long="truncate", register="watched-writer",
        progress=False,
    )  # fmt: skip
    model = ("watched-writer", tuned.version.version)
    llm_project.deploy("watched", f"{model[0]}:{model[1]}")
    usual = pairs.sample(80, random_state=1)[["prompt", "response"]].assign(latency_ms=20.0)
    _log(llm_project, model, usual, START)
    asked = [f"Quel temps fera-t-il demain à {city} ? Réponds en une phrase." for city in ("Paris", "Lyon") * 40]
    shifted = pd.DataFrame({"prompt": asked, "response": "Il fera beau.", "latency_ms": 35.0})
    ids = _log(llm_project, model, shifted, START + HOUR)

    before = llm_project.monitor("watched", start=START, end=START + HOUR)
    after = llm_project.monitor("watched", start=START + HOUR, end=START + 2 * HOUR)
    assert before.reference == f"training prompts of watched-writer:{model[1]}"
    assert "prompt_distance" not in before.drifted_features
    assert {"prompt_distance", "prompt_chars"} <= set(after.drifted_features)

    rule = [FeatureDriftRule("prompt_distance")]
    assert not llm_project.check_alerts("watched", rule, start=START, end=START + HOUR)
    fired = llm_project.check_alerts("watched", rule, start=START + HOUR, end=START + 2 * HOUR)
    assert [alert.rule for alert in fired] == ["feature_drift"]

    llm_project.log_feedback("watched", {"request_id": ids[:4], "rating": [1.0, 0.0, 0.0, 0.0]})
    stats = llm_project.generation_stats("watched", bucket="1h", start=START, end=START + 2 * HOUR)
    assert list(stats["requests"]) == [80, 80] and set(stats["model"]) == {f"watched-writer:{model[1]}"}
    assert list(stats["latency_ms_p50"]) == [20.0, 35.0] and list(stats["completion_tokens"]) == [7.0, 7.0]
    assert np.isnan(stats["feedback_rating"].iloc[0]) and stats["feedback_rating"].iloc[1] == 0.25
