"""Model versions: numbering, references, signatures, aliases and their history, tags, tampering."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fti
from fti.core.registry import ColumnSpec, Signature
from fti.errors import ConflictError, IntegrityError, NotFoundError, ValidationError


class Doubler:
    """A tiny pyfunc model."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame["amount"] * 2 + frame["count"]).to_numpy()


EXAMPLE = pd.DataFrame({"amount": [1.5, 2.0], "count": [1, 2], "channel": ["web", "app"]})


@pytest.fixture
def versions(project: fti.Project) -> list[fti.registry.ModelVersion]:
    created = []
    with project.start_run("fraud", name="train") as run:
        run.log_metric("f1", 0.8)
        for _ in range(3):
            created.append(run.log_model(Doubler(), "doubler", input_example=EXAMPLE, description="first"))
    return created


def test_versions_are_numbered_per_name(project: fti.Project, versions: list[fti.registry.ModelVersion]) -> None:
    assert [item.version for item in versions] == [1, 2, 3]
    with project.start_run("fraud") as run:
        other = run.log_model(Doubler(), "other")
    assert other.version == 1
    assert project.get_model("doubler").version == 3
    assert project.get_model("doubler:2").version == 2
    assert versions[0].metrics == {"f1": 0.8}
    assert versions[0].run_id is not None and versions[0].run_id != run.id
    assert [model.name for model in project.models()] == ["doubler", "other"]


def test_signature_is_inferred_from_the_input_example(versions: list[fti.registry.ModelVersion]) -> None:
    assert versions[0].signature == Signature(
        inputs=(ColumnSpec("amount", "double"), ColumnSpec("count", "int64"), ColumnSpec("channel", "string")),
        outputs=(ColumnSpec("prediction", "double"),),
    )


def test_predict_accepts_reordered_columns_and_ints_for_floats(versions: list[fti.registry.ModelVersion]) -> None:
    frame = pd.DataFrame({"channel": ["web"], "count": [3], "amount": [2]})
    assert versions[0].predict(frame).tolist() == [7.0]
    assert versions[0].predict(pa.table({"amount": [1.0], "count": [1], "channel": ["x"]})).tolist() == [3.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"amount": [1.0], "channel": ["web"]}),
            "Model 'doubler' v1 expects column 'count' (int64), but the input has no such column. "
            "Expected columns: amount, count, channel.",
        ),
        (
            pd.DataFrame({"amount": [1.0], "count": [1], "channel": ["web"], "extra": [0]}),
            "Model 'doubler' v1 got unexpected column 'extra': remove it. Expected columns: amount, count, channel.",
        ),
        (
            pd.DataFrame({"amount": ["1.0"], "count": [1], "channel": ["web"]}),
            "Model 'doubler' v1 expects column 'amount' as double, got string. Cast the column to double.",
        ),
        (
            pd.DataFrame({"amount": [1.0], "count": [1.5], "channel": ["web"]}),
            "Model 'doubler' v1 expects column 'count' as int64, got double. Cast the column to int64.",
        ),
    ],
)
def test_predict_enforces_the_signature(
    versions: list[fti.registry.ModelVersion], frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        versions[0].predict(frame)
    assert str(caught.value) == message


def test_explicit_signature_wins(project: fti.Project) -> None:
    schema = pa.schema([("amount", pa.float64()), ("count", pa.int64())])
    with project.start_run("fraud") as run:
        version = run.log_model(Doubler(), "explicit", signature=schema, input_example=EXAMPLE)
    assert version.signature == Signature(inputs=(ColumnSpec("amount", "double"), ColumnSpec("count", "int64")))
    with pytest.raises(ValidationError, match="got unexpected column 'channel'"):
        version.predict(EXAMPLE)


def test_model_references_and_their_errors(project: fti.Project, versions: list[fti.registry.ModelVersion]) -> None:
    versions[1].set_alias("champion")
    assert project.get_model("doubler@champion").version == 2
    cases = {
        "nothing": "No model 'nothing' is registered: log one with run.log_model(model, 'nothing').",
        "doubler:9": "Model 'doubler' has no version 9: its versions are 1 to 3.",
        "doubler@gold": "Model 'doubler' has no alias 'gold' (its aliases: champion). "
        "Set it with project.get_model('doubler:<version>').set_alias('gold').",
    }
    for ref, message in cases.items():
        with pytest.raises(NotFoundError) as caught:
            project.get_model(ref)
        assert str(caught.value) == message
    with pytest.raises(ValidationError, match=re.escape("Invalid model reference 'doubler:x'")):
        project.get_model("doubler:x")
    with pytest.raises(ValidationError, match="Invalid model name 'bad name'"):
        project.get_model("bad name")


def test_alias_moves_are_recorded(project: fti.Project, versions: list[fti.registry.ModelVersion]) -> None:
    first, second, _ = versions
    first.set_alias("champion", reason="baseline")
    second.set_alias("champion", reason="better f1")
    second.set_alias("champion")  # already there: not a move
    assert first.refresh().aliases == ()
    assert second.aliases == ("champion",)
    second.delete_alias("champion", reason="retired")
    history = second.alias_history("champion")
    assert [(m.from_version, m.to_version, m.reason, m.is_forced) for m in history] == [
        (None, 1, "baseline", False),
        (1, 2, "better f1", False),
        (2, None, "retired", False),
    ]
    assert all(move.changed_by and move.changed_at for move in history)
    with pytest.raises(NotFoundError, match="Model 'doubler' has no alias 'champion'"):
        project.get_model("doubler@champion")


def test_protected_alias_needs_force(project: fti.Project, versions: list[fti.registry.ModelVersion]) -> None:
    first, second, third = versions
    first.set_alias("prod", protected=True, reason="go live")
    with pytest.raises(ConflictError) as caught:
        second.set_alias("prod")
    assert str(caught.value) == (
        "Alias 'prod' of model 'doubler' is protected and points at v1: "
        "pass force=True (and a reason) to move it to v2."
    )
    with pytest.raises(ConflictError, match="is protected: pass force=True"):
        first.delete_alias("prod")
    assert project.get_model("doubler@prod").version == 1
    second.set_alias("prod", force=True, reason="hotfix")
    assert project.get_model("doubler@prod").version == 2
    with pytest.raises(ConflictError):
        third.set_alias("prod")  # still protected after a forced move
    moves = third.alias_history("prod")
    assert [(m.from_version, m.to_version, m.is_protected, m.is_forced, m.reason) for m in moves] == [
        (None, 1, True, False, "go live"),
        (1, 2, True, True, "hotfix"),
    ]


def test_tags_and_description(project: fti.Project, versions: list[fti.registry.ModelVersion]) -> None:
    version = versions[0]
    assert version.description == "first"
    version.set_tag("owner", "risk-team")
    version.description = "baseline doubler"
    fresh = project.get_model("doubler:1")
    assert fresh.tags == {"owner": "risk-team"}
    assert fresh.description == "baseline doubler"
    assert project.get_model("doubler:2").tags == {}


def test_invalid_alias_is_refused(versions: list[fti.registry.ModelVersion]) -> None:
    with pytest.raises(ValidationError, match="Invalid alias '1st'"):
        versions[0].set_alias("1st")


def test_tampered_model_file_is_refused_on_load(
    project: fti.Project, versions: list[fti.registry.ModelVersion]
) -> None:
    key = f"{versions[0].record.artifact_prefix}/model.pkl"
    stored = project.root / ".fti" / "artifacts" / key
    assert stored.is_file(), stored
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError) as caught:
        project.get_model("doubler:1").load()
    message = str(caught.value)
    assert message.startswith(f"Refusing to load model 'doubler' v1: Artifact '{key}' is corrupted or was replaced")
    assert project.get_model("doubler:2").predict(EXAMPLE).tolist() == [4.0, 6.0]


def test_model_files_live_in_the_artifact_store_with_checksums(
    project: fti.Project, versions: list[fti.registry.ModelVersion]
) -> None:
    prefix = versions[0].record.artifact_prefix
    assert prefix.startswith(f"runs/{versions[0].run_id}/models/doubler-")
    records = project.artifacts.list(prefix + "/")
    assert [Path(record.key).name for record in records] == ["model.pkl"]
    assert len(records[0].sha256) == 64
