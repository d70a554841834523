"""Class scores on /v1, /v2 and /invocations; ensembles; pre- and postprocessing; readiness of a broken deployment."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from sklearn.linear_model import LinearRegression, LogisticRegression

from fti.core.deployments import Deployment
from fti.inference_log.features import feature_columns
from tests.integration.serving.conftest import COLUMNS, SCHEMA, ServerFactory, Stack, build_stack, rows

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def stack() -> Stack:
    """The server's stack with binary classifiers as 'fraud' v1, v2 and its shadow: models with class scores."""
    return build_stack(_fit)


def _scores(stack: Stack, version: int, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(stack.estimators[version].predict_proba(frame[COLUMNS].astype(float)))


@pytest.fixture
def scored(stack: Stack, serve: ServerFactory) -> Iterator[str]:
    """Deployments answering scores ('proba'), both ('both'), and one regressor asked for scores."""
    stack.registry.register("amounts", LinearRegression().fit(rows(20), np.arange(20.0)), SCHEMA)
    stack.deployments.put(Deployment.create("proba", {"fraud@champion": 1.0}, output_kind="proba"))
    stack.deployments.put(
        Deployment.create("both", {"fraud@champion": 0.5, "fraud@challenger": 0.5}, output_kind="both")
    )
    stack.deployments.put(Deployment.create("amounts", {"amounts": 1.0}, output_kind="proba"))
    with serve() as url:
        yield url


def test_v1_answers_scores_and_labels_as_the_deployment_says(scored: str, stack: Stack) -> None:
    frame = rows(6, seed=2)
    body = httpx.post(f"{scored}/v1/deployments/proba/predict", json={"instances": frame.to_dict("records")}).json()
    assert "predictions" not in body and body["classes"] == [0, 1]
    np.testing.assert_allclose(body["proba"], _scores(stack, 1, frame))
    both = httpx.post(f"{scored}/v1/deployments/both/predict", json={"instances": frame.to_dict("records")}).json()
    versions = np.array(both["model_versions"])
    for version in (1, 2):
        expected = _scores(stack, version, frame[versions == version])
        np.testing.assert_allclose(np.array(both["proba"])[versions == version], expected)
        np.testing.assert_array_equal(np.array(both["predictions"])[versions == version], expected.argmax(axis=1))


def test_v2_outputs_are_chosen_by_name(scored: str, stack: Stack) -> None:
    assert httpx.get(f"{scored}/v2/models/fraud").json()["outputs"] == [
        {"name": "fraud_probability", "datatype": "FP64", "shape": [-1]},
        {"name": "proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    frame = rows(5, seed=3)
    client = triton.InferenceServerClient(url=scored.removeprefix("http://"))
    try:
        tensor = triton.InferInput("features", [len(frame), 3], "FP64")
        tensor.set_data_from_numpy(frame[COLUMNS].to_numpy())
        asked = [triton.InferRequestedOutput("proba"), triton.InferRequestedOutput("fraud_probability")]
        result = client.infer("fraud", [tensor], outputs=asked)
        np.testing.assert_allclose(result.as_numpy("proba"), _scores(stack, 1, frame))
        np.testing.assert_array_equal(result.as_numpy("fraud_probability"), _scores(stack, 1, frame).argmax(axis=1))
        by_default = client.infer("proba", [tensor])  # the deployment answers scores unless asked otherwise
        assert by_default.as_numpy("fraud_probability") is None
        assert by_default.as_numpy("proba").shape == (5, 2)
        direct = client.infer("fraud", [tensor], model_version="2", outputs=[triton.InferRequestedOutput("proba")])
        np.testing.assert_allclose(direct.as_numpy("proba"), _scores(stack, 2, frame))
    finally:
        client.close()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"predict_method": "predict_proba"}, "proba"),
        ({"output_kind": "both"}, "both"),
        (None, "predict"),
    ],
)
def test_invocations_params(serve: ServerFactory, stack: Stack, params: dict[str, str] | None, expected: str) -> None:
    frame = rows(3, seed=4)
    payload: dict[str, object] = {"dataframe_split": {"columns": COLUMNS, "data": frame.to_numpy().tolist()}}
    if params is not None:
        payload["params"] = params
    with serve(invocations_deployment="fraud") as url:
        predictions = httpx.post(f"{url}/invocations", json=payload).json()["predictions"]
    scores = _scores(stack, 1, frame)
    if expected == "proba":
        np.testing.assert_allclose(predictions, scores)
    elif expected == "both":
        assert [row["fraud_probability"] for row in predictions] == scores.argmax(axis=1).tolist()
        np.testing.assert_allclose([row["proba"] for row in predictions], scores)
    else:
        np.testing.assert_array_equal(predictions, scores.argmax(axis=1))  # a classifier predicts labels


def test_scores_of_a_regressor_are_refused_with_the_reason(scored: str) -> None:
    response = httpx.post(f"{scored}/v1/deployments/amounts/predict", json={"instances": rows(1).to_dict("records")})
    assert response.status_code == 422
    assert response.json()["error"] == (
        "Deployment 'amounts' asks for class scores but model 'amounts' v1 gives none (it is not a classifier "
        "with classes): ask for its predictions (output_kind='predict')."
    )


def test_invocations_params_are_checked(serve: ServerFactory) -> None:
    split = {"columns": COLUMNS, "data": [[1.0, 2.0, 3.0]]}
    with serve(invocations_deployment="fraud") as url:
        odds = httpx.post(f"{url}/invocations", json={"dataframe_split": split, "params": {"output_kind": "odds"}})
        method = httpx.post(f"{url}/invocations", json={"dataframe_split": split, "params": {"predict_method": "x"}})
    assert odds.status_code == 422
    assert odds.json()["error"] == "Field 'params.output_kind' is 'odds': use one of predict, proba, both."
    assert method.json()["error"] == "Field 'params.predict_method' is 'x': use one of predict, predict_proba."


def _fit(seed: int, regression: bool = False) -> LogisticRegression | LinearRegression:
    random = np.random.default_rng(seed)
    features = pd.DataFrame(random.normal(size=(300, 3)), columns=COLUMNS)
    target = features.to_numpy() @ random.normal(size=3)
    if regression:
        return LinearRegression().fit(features, target)
    return LogisticRegression().fit(features, (target > 0).astype(int))


def test_ensembles_combine_members_by_mean_weighted_mean_vote_and_stacking(serve: ServerFactory, stack: Stack) -> None:
    members = {version: stack.estimators[version] for version in (1, 2)}
    third = stack.registry.register("fraud", _fit(9), SCHEMA, output_name="fraud_probability")
    members[third.version] = third.estimator
    references = {f"fraud:{version}": 1 / 3 for version in members}
    stacked_inputs = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=["m1", "m2", "m3"])
    stacker = LogisticRegression().fit(stacked_inputs, np.arange(50) % 2)
    stack.registry.register("stacker", stacker, [("m1", "float64"), ("m2", "float64"), ("m3", "float64")])
    weights = {"fraud:1": 0.5, "fraud:2": 0.3, "fraud:3": 0.2}
    deployments = [
        Deployment.create("mean", references, combine="mean", output_kind="both"),
        Deployment.create("weighted", weights, combine="weighted_mean", output_kind="both"),
        Deployment.create("vote", references, combine="vote", output_kind="both"),
        Deployment.create("stacked", references, combine="stacking", stacker="stacker", output_kind="both"),
    ]
    for deployment in deployments:
        stack.deployments.put(deployment)
    frame = rows(40, seed=8)
    matrix = frame[COLUMNS]
    scores = np.stack([members[version].predict_proba(matrix) for version in sorted(members)])
    expected = {
        "mean": scores.mean(axis=0),
        "weighted": np.tensordot([0.5, 0.3, 0.2], scores, axes=1),
        "vote": np.stack([(scores.argmax(axis=2) == label).mean(axis=0) for label in (0, 1)], axis=1),
        "stacked": stacker.predict_proba(pd.DataFrame(scores[:, :, 1].T, columns=["m1", "m2", "m3"])),
    }
    with serve() as url:
        answers = {
            name: httpx.post(f"{url}/v1/deployments/{name}/predict", json={"instances": frame.to_dict("records")})
            for name in expected
        }
        status = httpx.get(f"{url}/v1/status").json()
    for name, proba in expected.items():
        body = answers[name].json()
        np.testing.assert_allclose(body["proba"], proba, err_msg=name)
        np.testing.assert_array_equal(body["predictions"], proba.argmax(axis=1))
        assert body["model_names"] == ["fraud"] * len(frame) and body["model_versions"] == [1] * len(frame)
    assert status["deployments"]["stacked"]["versions"] == {"fraud:1": 1, "fraud:2": 2, "fraud:3": 3, "stacker": 1}
    log = stack.sink.table().to_pandas()
    assert set(log.variant) == {
        "mean(fraud:1, fraud:2, fraud:3)",
        "weighted_mean(fraud:1, fraud:2, fraud:3)",
        "vote(fraud:1, fraud:2, fraud:3)",
        "stacking(fraud:1, fraud:2, fraud:3)",
    }
    assert len(log) == 4 * len(frame) and (log.model_name == "fraud").all()


def test_a_regression_ensemble_averages_and_a_mixed_one_fails_to_load(serve: ServerFactory, stack: Stack) -> None:
    regressors = [stack.registry.register("amount", _fit(seed, regression=True), SCHEMA) for seed in (1, 2)]
    stack.deployments.put(Deployment.create("amounts", {"amount:1": 0.25, "amount:2": 0.75}, combine="weighted_mean"))
    stack.deployments.put(Deployment.create("mixed", {"amount:1": 0.5, "fraud:1": 0.5}, combine="mean"))
    frame = rows(5, seed=1)
    with serve() as url:
        body = httpx.post(f"{url}/v1/deployments/amounts/predict", json={"instances": frame.to_dict("records")}).json()
        ready = httpx.get(f"{url}/v2/health/ready")
        status = httpx.get(f"{url}/v1/status").json()
    matrix = frame[COLUMNS]
    expected = 0.25 * regressors[0].estimator.predict(matrix) + 0.75 * regressors[1].estimator.predict(matrix)
    np.testing.assert_allclose(body["predictions"], expected)
    assert ready.status_code == 503
    assert status["ready"] is False
    assert status["deployments"]["mixed"] == {
        "state": "failed",
        "error": "ValidationError: Deployment 'mixed' combines classifiers with 'amount' v1, which is not one: "
        "ensemble members are all classifiers (with classes) or all regressors.",
    }


def test_pre_and_postprocessing_run_around_the_model_and_the_log_keeps_its_view(
    serve: ServerFactory, stack: Stack
) -> None:
    hooks = "tests.integration.serving.hooks"
    stack.deployments.put(
        Deployment.create(
            "hooked",
            {"fraud@champion": 1.0},
            preprocess=f"{hooks}:amount_in_cents",
            postprocess=f"{hooks}:as_words",
            output_kind="both",
        )
    )
    frame = rows(6, seed=12)
    frame.loc[0, "amount"] = 500.0
    sent = frame.assign(amount_cents=frame["amount"] * 100).drop(columns=["amount"])
    with serve() as url:
        body = httpx.post(f"{url}/v1/deployments/hooked/predict", json={"instances": sent.to_dict("records")}).json()
    labels = _scores(stack, 1, frame).argmax(axis=1)
    words = np.where(labels == 1, "fraud", "ok").astype(object)
    words[0] = "review"
    assert body["predictions"] == words.tolist()
    np.testing.assert_allclose(body["proba"], _scores(stack, 1, frame))
    table = stack.sink.table()
    log = table.to_pandas()
    logged = feature_columns(table).to_pandas()
    np.testing.assert_allclose(logged["amount"], frame["amount"])  # the model's inputs
    np.testing.assert_array_equal(log.prediction, labels)  # the model's predictions


def test_a_deployment_that_fails_to_load_makes_the_server_unready_with_the_reason(
    serve: ServerFactory, stack: Stack
) -> None:
    stack.deployments.put(
        Deployment.create("unloadable", {"fraud@champion": 1.0}, preprocess="tests.integration.serving.nowhere:f")
    )
    stack.deployments.put(
        Deployment.create("short", {"fraud@champion": 1.0}, preprocess="tests.integration.serving.hooks:wrong_length")
    )
    with serve() as url:
        assert httpx.get(f"{url}/v2/health/ready").status_code == 503
        model_ready = httpx.get(f"{url}/v2/models/unloadable/ready")
        predicted = httpx.post(
            f"{url}/v1/deployments/unloadable/predict", json={"instances": rows(1).to_dict("records")}
        )
        others = httpx.post(f"{url}/v1/deployments/fraud/predict", json={"instances": rows(1).to_dict("records")})
        short = httpx.post(f"{url}/v1/deployments/short/predict", json={"instances": rows(2).to_dict("records")})
        status = httpx.get(f"{url}/v1/status").json()
        assert httpx.get(f"{url}/v2/models/fraud/ready").status_code == 200
        stack.deployments.delete("unloadable")
        assert _becomes_ready(url)
    reason = (
        "ValidationError: Deployment 'unloadable' has preprocess 'tests.integration.serving.nowhere:f', whose module "
        "cannot be imported (No module named 'tests.integration.serving.nowhere'): package it with a served model "
        "version (log_model(..., code_paths=[...])) or install it."
    )
    assert status["deployments"]["unloadable"] == {"state": "failed", "error": reason}
    assert status["deployments"]["fraud"]["state"] == "ready"
    assert model_ready.status_code == 503
    assert model_ready.json()["error"] == f"Deployment 'unloadable' failed to load: {reason}"
    assert predicted.status_code == 503 and reason in predicted.json()["error"]
    assert others.status_code == 200
    assert short.status_code == 500  # the deployment's own function broke: details in the server log only


def _becomes_ready(url: str) -> bool:
    """Whether readiness turns 200 within 30 s (the server refreshes every 0.05 s in these tests)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/v2/health/ready").status_code == 200:
            return True
        time.sleep(0.05)
    return False


def test_the_log_keeps_each_rows_positive_score_when_scores_were_computed(scored: str, stack: Stack) -> None:
    frame = rows(8, seed=4)
    both = httpx.post(f"{scored}/v1/deployments/both/predict", json={"instances": frame.to_dict("records")}).json()
    httpx.post(f"{scored}/v1/deployments/fraud/predict", json={"instances": frame.to_dict("records")})
    deadline = time.monotonic() + 10
    while stack.sink.table().num_rows < 2 * len(frame) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = stack.sink.table().to_pandas()
    scored_rows = log[log.deployment == "both"].sort_values("request_id", kind="stable")
    assert len(scored_rows) == len(frame)
    # the score of the positive class (the second of the two), per row, from the variant that answered it
    expected = np.array(both["proba"])[:, 1]
    logged = np.concatenate(
        [scored_rows.loc[scored_rows.model_version == version, "score"].to_numpy() for version in (1, 2)]
    )
    versions = np.array(both["model_versions"])
    np.testing.assert_allclose(np.sort(logged), np.sort(expected))
    for version in (1, 2):
        np.testing.assert_allclose(
            np.sort(scored_rows.loc[scored_rows.model_version == version, "score"]),
            np.sort(_scores(stack, version, frame[versions == version])[:, 1]),
        )
    # a deployment answering labels computed no score: null, not a made-up number
    assert log.loc[log.deployment == "fraud", "score"].isna().all()


def test_a_request_time_header_is_logged_only_by_a_server_that_trusts_it(serve: ServerFactory, stack: Stack) -> None:
    frame = rows(2, seed=5)
    given = "2026-01-23T14:05:00+01:00"
    with serve(trust_request_time=True) as url:
        replayed = httpx.post(
            f"{url}/v1/deployments/fraud/predict",
            json={"instances": frame.to_dict("records")},
            headers={"X-Request-ID": "replayed", "X-Request-Time": given},
        )
        malformed = httpx.post(
            f"{url}/v1/deployments/fraud/predict",
            json={"instances": frame.to_dict("records")},
            headers={"X-Request-ID": "malformed", "X-Request-Time": "yesterday"},
        )
    before = pd.Timestamp.now(tz="UTC")
    with serve() as url:
        ignored = httpx.post(
            f"{url}/v1/deployments/fraud/predict",
            json={"instances": frame.to_dict("records")},
            headers={"X-Request-ID": "ignored", "X-Request-Time": given},
        )
    assert replayed.status_code == 200 and ignored.status_code == 200
    assert malformed.status_code == 422 and "X-Request-Time" in malformed.json()["error"]
    log = stack.sink.table().to_pandas().set_index("request_id")
    assert "malformed" not in log.index  # a refused request logs nothing
    assert (log.loc["replayed", "timestamp"] == pd.Timestamp("2026-01-23T13:05:00", tz="UTC")).all()
    assert (log.loc["ignored", "timestamp"] >= before).all()
