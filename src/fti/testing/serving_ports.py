"""The contract of the model server's ports (:mod:`fti.inference.ports`), for fakes and real adapters alike.

Subclass :class:`ServingPortsContract` and provide a fixture ``serving_world`` yielding a fresh
:class:`ServingWorld`: the ports of one implementation and the means to arrange what they serve (register
model versions, deploy, put online features, create tokens). ``fti.testing.serving.InMemoryServingWorld``
is the in-memory one; the project's tests run the suite on a world over a real project too, so a fake the
server tests rely on cannot answer differently from production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression

from fti.core.access import DEFAULT_ROLE, Identity
from fti.errors import NotFoundError, ValidationError
from fti.inference_log import REQUEST_LOG_SCHEMA, STORED_LOG_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fti.core.access import Role
    from fti.inference.ports import DeploymentSource, FeatureLookup, ModelResolver, TokenStore
    from fti.inference_log.writer import RequestLogSink

__all__ = ["ServingPortsContract", "ServingWorld"]

COLUMNS = ["amount", "hour"]


class ServingWorld(Protocol):
    """The serving ports of one implementation, and how to arrange what they serve."""

    @property
    def resolver(self) -> ModelResolver:
        """Resolves model references; sees a moved alias at once."""

    @property
    def deployments(self) -> DeploymentSource:
        """The deployments."""

    @property
    def features(self) -> FeatureLookup:
        """Online feature vectors."""

    @property
    def sink(self) -> RequestLogSink:
        """The request log's sink."""

    @property
    def tokens(self) -> TokenStore:
        """Checks API tokens; sees a revocation at once."""

    def register(self, name: str, estimator: Any, example: pd.DataFrame) -> int:
        """Register a new version of ``name`` (a fitted scikit-learn estimator taking ``example``'s columns)."""

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``name@alias`` at ``version``."""

    def deploy(self, name: str, variants: dict[str, float]) -> None:
        """Create or replace the deployment ``name``."""

    def undeploy(self, name: str) -> None:
        """Delete the deployment ``name``."""

    def put_features(self, view: str, keys: Sequence[str], frame: pd.DataFrame) -> str:
        """Serve ``frame`` (keys and float features) as feature view ``view``; the reference to look it up by."""

    def create_token(self, name: str, role: Role = DEFAULT_ROLE) -> str:
        """Create an API token with ``role``; its secret."""

    def revoke_token(self, name: str) -> None:
        """Revoke the API token ``name``."""

    def logged(self) -> pa.Table:
        """Every row the sink stored, in the request log's schema."""


def _frame(rows: int = 6, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, len(COLUMNS))), columns=COLUMNS)


def _estimator(seed: int) -> LinearRegression:
    frame = _frame(40, seed)
    return LinearRegression().fit(frame, frame["amount"] * seed - frame["hour"])


def _register_two(world: ServingWorld) -> tuple[LinearRegression, LinearRegression]:
    """'fraud' v1 (champion) and v2."""
    first, second = _estimator(1), _estimator(2)
    assert world.register("fraud", first, _frame()) == 1
    assert world.register("fraud", second, _frame()) == 2
    world.set_alias("fraud", "champion", 1)
    return first, second


def _log_rows(start: int, rows: int) -> pa.Table:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "request_id": [f"r{start + index}" for index in range(rows)],
            "timestamp": [moment + timedelta(seconds=start + index) for index in range(rows)],
            "deployment": ["fraud"] * rows,
            "variant": ["fraud@champion"] * rows,
            "model_name": ["fraud"] * rows,
            "model_version": [1] * rows,
            "features": ['{"amount": 1.0}'] * rows,
            "prediction": [0.5] * rows,
            "latency_ms": [1.5] * rows,
            "is_shadow": [False] * rows,
        },
        schema=REQUEST_LOG_SCHEMA,
    )


class ServingPortsContract:
    """Behaviour shared by every implementation of the model server's ports."""

    # -- ModelResolver and ServedModel ---------------------------------------------------------------

    def test_references_name_versions(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        resolver = serving_world.resolver
        for reference, version in (("fraud", 2), ("fraud:1", 1), ("fraud@champion", 1)):
            model = resolver.resolve(reference)
            assert (model.name, model.version) == ("fraud", version)
            assert resolver.current_version(reference) == version

    def test_a_moved_alias_is_current_at_once(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        assert serving_world.resolver.current_version("fraud@champion") == 1
        serving_world.set_alias("fraud", "champion", 2)
        assert serving_world.resolver.current_version("fraud@champion") == 2
        assert serving_world.resolver.resolve("fraud@champion").version == 2

    def test_a_served_model_describes_its_inputs_and_output(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        model = serving_world.resolver.resolve("fraud:1")
        assert list(model.input_schema) == [("amount", "float64"), ("hour", "float64")]
        assert model.output_name == "prediction"

    def test_a_served_model_predicts_what_its_estimator_predicts(self, serving_world: ServingWorld) -> None:
        first, _ = _register_two(serving_world)
        model = serving_world.resolver.resolve("fraud@champion")
        frame = _frame(5, seed=9)
        expected = first.predict(frame)
        np.testing.assert_allclose(model.predict(frame), expected)
        np.testing.assert_allclose(model.predict(frame[["hour", "amount"]]), expected)
        whole = pd.DataFrame({"amount": [1, 2], "hour": [3, 4]})  # integers where floats are expected
        np.testing.assert_allclose(model.predict(whole), first.predict(whole.astype(float)))

    def test_inputs_that_do_not_fit_name_the_column(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        model = serving_world.resolver.resolve("fraud:1")
        frame = _frame(2)
        with pytest.raises(ValidationError, match=r"Model 'fraud' v1 expects column 'hour' \(double\), but the input"):
            model.predict(frame[["amount"]])
        with pytest.raises(ValidationError, match="Model 'fraud' v1 got unexpected column 'extra': remove it"):
            model.predict(frame.assign(extra=1.0))
        with pytest.raises(ValidationError, match="Model 'fraud' v1 expects column 'amount' as double, got string"):
            model.predict(frame.assign(amount=["a", "b"]))

    def test_missing_models_versions_and_aliases_are_not_found(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        resolver = serving_world.resolver
        cases = {
            "nope": "No model 'nope' is registered",
            "fraud:9": "Model 'fraud' has no version 9: its versions are 1 to 2",
            "fraud@gold": r"Model 'fraud' has no alias 'gold' \(its aliases: champion\)",
        }
        for reference, message in cases.items():
            with pytest.raises(NotFoundError, match=message):
                resolver.resolve(reference)
            if reference != "fraud:9":  # a pinned version is its own number: polling it needs no lookup
                with pytest.raises(NotFoundError, match=message):
                    resolver.current_version(reference)
        assert resolver.current_version("fraud:9") == 9
        with pytest.raises(ValidationError, match="Invalid model reference 'fraud:x'"):
            resolver.resolve("fraud:x")

    # -- DeploymentSource ----------------------------------------------------------------------------

    def test_deployments_are_listed_by_name_with_an_etag_that_follows_changes(
        self, serving_world: ServingWorld
    ) -> None:
        _register_two(serving_world)
        serving_world.deploy("solo", {"fraud@champion": 1.0})
        serving_world.deploy("ab", {"fraud:1": 0.5, "fraud:2": 0.5})
        source = serving_world.deployments
        assert [item.name for item in source.list_deployments()] == ["ab", "solo"]
        before = source.get_deployment("solo")
        assert before.references == ("fraud@champion",) and before.etag
        serving_world.deploy("solo", {"fraud:2": 1.0})
        after = source.get_deployment("solo")
        assert after.references == ("fraud:2",) and after.etag != before.etag
        assert {item.name: item.etag for item in source.list_deployments()}["solo"] == after.etag

    def test_a_missing_deployment_is_not_found(self, serving_world: ServingWorld) -> None:
        _register_two(serving_world)
        serving_world.deploy("solo", {"fraud": 1.0})
        serving_world.undeploy("solo")
        assert serving_world.deployments.list_deployments() == []
        with pytest.raises(NotFoundError, match=r"Deployment 'solo' does not exist \(deployments: none\)"):
            serving_world.deployments.get_deployment("solo")

    # -- FeatureLookup -------------------------------------------------------------------------------

    def test_feature_vectors_come_in_entity_order(self, serving_world: ServingWorld) -> None:
        stored = pd.DataFrame({"cc_num": [1, 2, 3], "amount": [10.0, 20.0, 30.0], "hour": [1.0, 2.0, 3.0]})
        view = serving_world.put_features("cards", ["cc_num"], stored)
        vectors = serving_world.features.get_feature_vectors(view, pd.DataFrame({"cc_num": [3, 1, 42]}), None)
        assert list(vectors.columns) == COLUMNS
        assert vectors["amount"].tolist()[:2] == [30.0, 10.0] and vectors["hour"].tolist()[:2] == [3.0, 1.0]
        assert vectors.iloc[2].isna().all()  # an entity the store lacks: nulls

    def test_passed_features_take_precedence(self, serving_world: ServingWorld) -> None:
        stored = pd.DataFrame({"cc_num": [1, 2], "amount": [10.0, 20.0], "hour": [1.0, 2.0]})
        view = serving_world.put_features("cards", ["cc_num"], stored)
        passed = pd.DataFrame({"hour": [7.0, 8.0]})
        vectors = serving_world.features.get_feature_vectors(view, pd.DataFrame({"cc_num": [2, 1]}), passed)
        assert vectors["amount"].tolist() == [20.0, 10.0] and vectors["hour"].tolist() == [7.0, 8.0]

    def test_lookups_that_cannot_work_say_why(self, serving_world: ServingWorld) -> None:
        stored = pd.DataFrame({"cc_num": [1], "amount": [10.0], "hour": [1.0]})
        view = serving_world.put_features("cards", ["cc_num"], stored)
        lookup = serving_world.features
        with pytest.raises(ValidationError, match="Entity 0 for feature view 'cards' v1 lacks key column 'cc_num'"):
            lookup.get_feature_vectors(view, pd.DataFrame({"card": [1]}), None)
        with pytest.raises(
            ValidationError, match="Key column 'cc_num' of feature view 'cards' v1 must be int64, got str"
        ):
            lookup.get_feature_vectors(view, pd.DataFrame({"cc_num": ["1"]}), None)
        with pytest.raises(NotFoundError, match="Feature view 'nope' v1 does not exist; known: cards"):
            lookup.get_feature_vectors("nope:1", pd.DataFrame({"cc_num": [1]}), None)

    # -- TokenStore ----------------------------------------------------------------------------------

    def test_tokens_verify_until_revoked(self, serving_world: ServingWorld) -> None:
        secret = serving_world.create_token("ci")
        other = serving_world.create_token("cd")
        assert serving_world.tokens.verify(secret) and serving_world.tokens.verify(other)
        assert not serving_world.tokens.verify(secret + "x") and not serving_world.tokens.verify("")
        serving_world.revoke_token("ci")
        assert not serving_world.tokens.verify(secret) and serving_world.tokens.verify(other)

    def test_tokens_identify_their_name_and_role(self, serving_world: ServingWorld) -> None:
        reader = serving_world.create_token("dashboards", "read")
        default = serving_world.create_token("scorer")
        assert serving_world.tokens.identify(reader) == Identity("dashboards", "read")
        assert serving_world.tokens.identify(default) == Identity("scorer", DEFAULT_ROLE)
        assert serving_world.tokens.identify(reader[:-1]) is None
        serving_world.revoke_token("dashboards")
        assert serving_world.tokens.identify(reader) is None

    # -- RequestLogSink ------------------------------------------------------------------------------

    def test_the_sink_keeps_every_row_in_the_log_schema(self, serving_world: ServingWorld) -> None:
        assert serving_world.logged().num_rows == 0
        serving_world.sink.write(_log_rows(0, 3))
        serving_world.sink.write(_log_rows(3, 0))
        serving_world.sink.write(_log_rows(3, 2).select(list(reversed(REQUEST_LOG_SCHEMA.names))))
        logged = serving_world.logged()
        assert logged.schema == STORED_LOG_SCHEMA
        # the optional score column, absent from these batches, reads as null
        assert logged.column("score").null_count == 5
        assert logged.select(REQUEST_LOG_SCHEMA.names).to_pylist() == _log_rows(0, 5).to_pylist()
