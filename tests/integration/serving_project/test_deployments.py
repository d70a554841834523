"""project.deploy and tokens in the catalog, their CLI, batch_predict into a feature group, fti predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.core.audit import acting_as
from fti.errors import ConflictError, NotFoundError, ValidationError
from fti.features import FeatureView
from fti.inference.adapters import CatalogTokenStore, FeatureViewLookup, RegistryResolver
from tests.integration.serving_project.conftest import FEATURES, build_project, card_frames

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with 'fraud' v1 and v2, 'fraud_shadow' and deployment 'ab'."""
    path = tmp_path_factory.mktemp("deployments")
    build_project(path)
    return path


@pytest.fixture
def project(folder: Path) -> fti.Project:
    with fti.connect(folder) as opened:
        yield opened


def test_deploy_stores_and_updates_a_deployment(project: fti.Project) -> None:
    first = project.deploy("solo", "fraud@champion")
    assert project.get_deployment("solo") == first
    again = project.deploy("solo", {"fraud:1": 0.25, "fraud:2": 0.75}, entity_key="cc_num")
    assert again.etag != first.etag and again.created_at == first.created_at
    assert again.references == ("fraud:1", "fraud:2") and again.entity_keys == ("cc_num",)
    assert [item.name for item in project.deployments()] == ["ab", "solo"]
    assert project.get_deployment("ab").feature_lookup == "fraud:1"
    project.undeploy("solo")
    with pytest.raises(NotFoundError, match=r"Deployment 'solo' does not exist \(deployments: ab\)"):
        project.get_deployment("solo")
    with pytest.raises(NotFoundError, match="Deployment 'solo' does not exist: nothing to undeploy."):
        project.undeploy("solo")
    history = [(entry.action, entry.target) for entry in project.audit(action="deployment.") if entry.target == "solo"]
    assert history == [("deployment.delete", "solo"), ("deployment.replace", "solo"), ("deployment.create", "solo")]


def test_alias_moves_are_audited_under_the_acting_token(project: fti.Project) -> None:
    with acting_as("release_bot"):
        project.get_model("fraud:2").set_alias("audited")
        project.get_model("fraud:2").delete_alias("audited")
    moves = project.audit(actor="release_bot")
    assert [(entry.action, entry.target) for entry in moves] == [
        ("alias.delete", "fraud@audited"),
        ("alias.set", "fraud@audited"),
    ]
    assert moves[1].detail == {"from_version": None, "to_version": 2, "force": False}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "bad-name", "variants": "fraud"}, ValidationError, "Invalid deployment name 'bad-name'"),
        (
            {"name": "x", "variants": {"fraud:1": 0.5, "fraud:2": 0.4}},
            ValidationError,
            "Deployment 'x' has variant shares summing to 0.9, not 1",
        ),
        (
            {"name": "x", "variants": "fraud@gold"},
            NotFoundError,
            "Deployment 'x' refers to model 'fraud@gold', which is missing: Model 'fraud' has no alias 'gold'",
        ),
        ({"name": "x", "variants": "nothing"}, NotFoundError, "Deployment 'x' refers to model 'nothing'"),
        ({"name": "x", "variants": "fraud", "shadow": "fraud"}, ValidationError, "both as a variant and as its shadow"),
        ({"name": "x", "variants": "fraud", "feature_view": "fraud:x"}, ValidationError, "use 'name' or 'name:2'"),
        ({"name": "x", "variants": "fraud", "feature_view": "cards"}, NotFoundError, "cards"),
        ({"name": "x", "variants": "fraud", "entity_key": "cc num"}, ValidationError, "entity key of deployment 'x'"),
    ],
)
def test_deploy_validates_before_writing(
    project: fti.Project, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    name = str(kwargs.pop("name"))
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        project.deploy(name, **kwargs)  # type: ignore[arg-type]
    assert "x" not in [item.name for item in project.deployments()]


def test_tokens_are_stored_hashed_and_revocable(project: fti.Project) -> None:
    secret = project.create_token("ci")
    store = CatalogTokenStore(project.api_tokens, ttl_seconds=0)
    assert secret.startswith("fti_") and store.verify(secret) and not store.verify(secret + "x")
    assert secret not in repr(project.tokens())
    with pytest.raises(ConflictError, match="API token 'ci' already exists"):
        project.create_token("ci")
    project.revoke_token("ci")
    assert not store.verify(secret)
    assert [token.name for token in project.tokens() if token.is_revoked] == ["ci"]
    with pytest.raises(NotFoundError, match=r"API token 'other' does not exist \(tokens: ci\)"):
        project.revoke_token("other")


def test_resolver_caches_current_versions_for_its_interval(project: fti.Project) -> None:
    now = [0.0]
    resolver = RegistryResolver(project.registry, ttl_seconds=10, clock=lambda: now[0])
    assert resolver.current_version("fraud@challenger") == 2
    project.get_model("fraud:1").set_alias("challenger")
    try:
        assert resolver.current_version("fraud@challenger") == 2
        now[0] = 11.0
        assert resolver.current_version("fraud@challenger") == 1
        assert resolver.current_version("fraud:2") == 2
        model = resolver.resolve("fraud:2")
        assert [column for column, _ in model.input_schema] == FEATURES
        assert dict(model.input_schema)["amount"] == "float64"
    finally:
        project.get_model("fraud:2").set_alias("challenger")


def test_cli_lists_and_shows_deployments_and_tokens(folder: Path) -> None:
    listed = runner.invoke(app, ["deployments", "list", "--project", str(folder)])
    # tables wrap cells on a narrow terminal (CI has 80 columns): check what cannot wrap
    assert listed.exit_code == 0 and "Deployments" in listed.output and "50%" in listed.output
    shown = runner.invoke(app, ["deployments", "show", "ab", "--project", str(folder)])
    assert shown.exit_code == 0 and "50%" in shown.output
    created = runner.invoke(app, ["tokens", "create", "cli", "--project", str(folder)])
    assert created.exit_code == 0 and "fti_" in created.output
    assert runner.invoke(app, ["tokens", "revoke", "cli", "--project", str(folder)]).exit_code == 0
    tokens = runner.invoke(app, ["tokens", "list", "--project", str(folder)])
    assert tokens.exit_code == 0 and "cli" in tokens.output
    missing = runner.invoke(app, ["deployments", "show", "nope", "--project", str(folder)])
    assert missing.exit_code != 0 and "Deployment 'nope' does not exist" in str(missing.exception)
    for command in (["serve"], ["predict"], ["deployments"], ["tokens", "create"]):
        assert runner.invoke(app, [*command, "--help"]).exit_code == 0


def test_batch_predict_writes_a_versioned_feature_group(project: fti.Project) -> None:
    _cards, labels = card_frames()
    result = project.batch_predict("fraud@champion", output="fraud_scores", chunk_rows=50, show_progress=False)
    assert (result.rows, result.commit, result.model_version) == (len(labels), 0, 1)
    assert (result.feature_view, result.feature_view_version) == ("fraud", 1)
    scores = project.get_feature_group("fraud_scores")
    written = scores.read().sort_values(["ts", "cc_num"]).reset_index(drop=True)
    assert len(written) == len(labels)
    assert set(written.columns) == {"cc_num", "ts", "prediction", "model_name", "model_version"}
    view = project.get_feature_view("fraud")
    batch = view.get_batch_data().sort_values(["ts", "cc_num"]).reset_index(drop=True)
    np.testing.assert_array_equal(written["prediction"], project.get_model("fraud:1").predict(batch[FEATURES]))
    start = pd.Timestamp("2026-01-02", tz="UTC").to_pydatetime()
    again = project.batch_predict("fraud:2", start=start, output="fraud_scores", show_progress=False)
    assert again.commit == 1 and again.rows == int((labels["ts"] >= start).sum())
    assert len(scores.read(as_of=0)) == len(labels)
    spine = labels.iloc[:7][["cc_num", "ts"]]
    from_spine = project.batch_predict("fraud:2", spine=spine, output="spine_scores", show_progress=False)
    assert from_spine.rows == 7 and len(project.get_feature_group("spine_scores").read()) == 7


def test_batch_predict_errors(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="Pass either a spine table or a time range"):
        project.batch_predict("fraud", spine=pd.DataFrame(), start=pd.Timestamp("2026-01-01"), output="o")
    late = pd.Timestamp("2030-01-01", tz="UTC").to_pydatetime()
    with pytest.raises(ValidationError, match="Feature view 'fraud' v1 has no rows to predict in the given time range"):
        project.batch_predict("fraud", start=late, output="o", show_progress=False)
    with project.start_run("plain") as run:
        frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
        run.log_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "untraced", input_example=frame)
    with pytest.raises(NotFoundError, match="Model 'untraced' v1 has no feature view in its lineage"):
        project.batch_predict("untraced", output="o")
    # a model whose input the view lacks: said before anything is written
    with pytest.raises(ValidationError, match=r"Model 'untraced' v1 takes input column\(s\) \['a'\] that feature view"):
        project.batch_predict("untraced", feature_view="fraud", output="never_written", show_progress=False)
    with pytest.raises(NotFoundError):
        project.get_feature_group("never_written")


def test_fti_predict_on_the_cli(folder: Path) -> None:
    result = runner.invoke(
        app,
        ["predict", "fraud@challenger", "--output", "cli_scores", "--start", "2026-01-05", "--project", str(folder)],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # as read: the console wraps lines at its width
    assert "Scored 144 rows (the spine rows of feature view fraud from 2026-01-05 to the last" in said
    assert "with fraud v2" in said and "'cli_scores', commit 0" in said
    assert "pass --group NAME or --spine FILE" in said
    bad = runner.invoke(app, ["predict", "fraud", "--output", "x", "--start", "soon", "--project", str(folder)])
    assert bad.exit_code != 0 and "--start 'soon' is not an ISO date" in str(bad.exception)


@pytest.mark.skipif(
    not hasattr(FeatureView, "get_feature_vectors"), reason="FeatureView.get_feature_vectors is not merged yet"
)
def test_feature_lookup_reads_the_online_store_through_the_view(project: fti.Project) -> None:
    lookup = FeatureViewLookup(project.features)
    entities = pd.DataFrame({"cc_num": [0, 1]})
    vectors = lookup.get_feature_vectors("fraud:1", entities, None)
    assert len(vectors) == 2 and set(FEATURES) <= set(vectors.columns) and "is_fraud" not in vectors.columns


def test_served_model_takes_the_signature_path_for_anything_but_exact_inputs(project: fti.Project) -> None:
    model = RegistryResolver(project.registry).resolve("fraud:1")
    version = project.get_model("fraud:1")
    exact = pd.DataFrame({"amount": [0.5, -1.0], "hour": [0.1, 2.0], "distance": [1.0, 0.0]})
    np.testing.assert_array_equal(model.predict(exact), version.predict(exact))
    integers = pd.DataFrame({"hour": [0, 2], "amount": [1, -1], "distance": [1, 0]})
    np.testing.assert_array_equal(model.predict(integers), version.predict(integers.astype(float)))
    with pytest.raises(ValidationError, match="Model 'fraud' v1 got unexpected column 'extra': remove it"):
        model.predict(exact.assign(extra=1.0))


def _unlabelled_rows(project: fti.Project, name: str) -> fti.FeatureGroup:
    """Card transactions after the last label: rows the view's spine (its labels) does not have."""
    group = project.get_or_create_feature_group(name, primary_key=["cc_num"], event_time="ts")
    ts = pd.to_datetime("2026-01-12", utc=True) + pd.to_timedelta(np.arange(6), unit="h")
    group.insert(pd.DataFrame({"cc_num": np.arange(6) % 4, "ts": ts, "amount_seen": np.ones(6)}))
    return group


def test_batch_predict_scores_a_feature_group_s_unlabelled_rows(project: fti.Project) -> None:
    group = _unlabelled_rows(project, "new_activity")
    start = pd.Timestamp("2026-01-12 02:00", tz="UTC").to_pydatetime()
    result = project.batch_predict("fraud@champion", spine=group, start=start, output="new_scores", show_progress=False)
    assert result.rows == 4
    written = project.get_feature_group("new_scores").read()
    assert written["ts"].min() == pd.Timestamp("2026-01-12 02:00", tz="UTC") and set(written["cc_num"]) == {0, 1, 2, 3}
    wrong = project.get_or_create_feature_group("by_merchant", primary_key=["merchant"], event_time="ts")
    with pytest.raises(ValidationError, match=r"Feature group 'by_merchant' v1 has no column 'cc_num', a key of "):
        project.batch_predict("fraud@champion", spine=wrong, output="new_scores", show_progress=False)


def test_fti_predict_scores_unlabelled_rows_of_a_group_or_a_file(folder: Path) -> None:
    with fti.connect(folder) as project:
        _unlabelled_rows(project, "cli_activity")
    result = runner.invoke(
        app, ["predict", "fraud@champion", "--group", "cli_activity", "--output", "cli_new", "--project", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert "Scored 6 rows (the rows of feature group cli_activity) with fraud v1" in result.output
    spine = folder / "spine.csv"
    spine.write_text("cc_num,ts\n1,2026-01-13T00:00:00Z\n2,2026-01-13T01:00:00Z\n")
    result = runner.invoke(
        app, ["predict", "fraud@champion", "--spine", str(spine), "--output", "cli_new", "--project", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert f"Scored 2 rows (every row of {spine})" in result.output
    both = runner.invoke(
        app, ["predict", "fraud", "--group", "a", "--spine", str(spine), "--output", "x", "--project", str(folder)]
    )
    assert both.exit_code != 0 and "Pass --group or --spine, not both" in str(both.exception)
