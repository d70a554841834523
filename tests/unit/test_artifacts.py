"""Checksummed artifacts: recorded on write, verified on read, unsafe keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import fti
from fti.errors import IntegrityError, NotFoundError, ValidationError


def test_round_trip_records_sha256(project: fti.Project) -> None:
    record = project.artifacts.put_bytes("reports/a.json", b'{"a": 1}')
    assert record.size == 8
    assert len(record.sha256) == 64
    assert project.artifacts.get_bytes("reports/a.json") == b'{"a": 1}'
    assert project.artifacts.get_record("reports/a.json") == record
    assert project.counts()["artifacts"] == 1


def test_corrupted_file_is_refused_naming_the_artifact(project: fti.Project) -> None:
    project.artifacts.put_bytes("models/m/model.bin", b"good bytes")
    stored = project.root / ".fti" / "artifacts" / "models" / "m" / "model.bin"
    stored.write_bytes(b"evil bytes")
    with pytest.raises(IntegrityError, match="Artifact 'models/m/model.bin' is corrupted or was replaced"):
        project.artifacts.get_bytes("models/m/model.bin")


def test_swapped_files_are_refused(project: fti.Project, tmp_path: Path) -> None:
    project.artifacts.put_bytes("a", b"first")
    project.artifacts.put_bytes("b", b"second")
    folder = project.root / ".fti" / "artifacts"
    (folder / "a").write_bytes(b"second")
    with pytest.raises(IntegrityError, match="'a'"):
        project.artifacts.get_file("a", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_parent_key_is_rejected_and_nothing_written(project: fti.Project) -> None:
    with pytest.raises(ValidationError, match="'..' path parts are not allowed"):
        project.artifacts.put_bytes("../outside", b"x")
    assert project.artifacts.list() == []
    assert not (project.root / ".fti" / "outside").exists()


def test_unrecorded_key_is_not_found(project: fti.Project) -> None:
    with pytest.raises(NotFoundError, match="Artifact 'nothing' is not recorded"):
        project.artifacts.get_bytes("nothing")


def test_files_folders_json_and_delete(project: fti.Project, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    records = project.artifacts.put_dir("runs/r1/model", folder)
    assert [r.key for r in records] == ["runs/r1/model/a.txt", "runs/r1/model/sub/b.txt"]
    project.artifacts.put_json("runs/r1/params.json", {"lr": 0.1})
    assert project.artifacts.get_json("runs/r1/params.json") == {"lr": 0.1}
    assert project.artifacts.get_file("runs/r1/model/sub/b.txt", tmp_path / "b").read_text() == "B"
    project.artifacts.delete("runs/r1/model/a.txt")
    assert not project.artifacts.exists("runs/r1/model/a.txt")
    assert [r.key for r in project.artifacts.list("runs/r1/")] == ["runs/r1/model/sub/b.txt", "runs/r1/params.json"]


def test_missing_source_file_is_not_found(project: fti.Project, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        project.artifacts.put_file("x", tmp_path / "missing.bin")
