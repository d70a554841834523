"""The model registry service: registers versions from runs, resolves references, moves aliases, deletes versions.

It runs a little past 400 lines: one class, each method a registry verb over the catalog; what a verb needs
beyond a few lines lives in its own module (lineage, flavors, environments, deletion).
"""

from __future__ import annotations

import getpass
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti.core.audit import audit_entry
from fti.core.events import new_event, note_read
from fti.core.lineage import TrainingDataLineage, TrainingDataRef
from fti.core.registry import (
    AliasMove,
    ModelAlias,
    ModelOrigin,
    ModelVersionRecord,
    RegisteredModel,
    Signature,
    validate_alias,
    validate_model_name,
)
from fti.core.tracking import Comparison, RunSearch, validate_value_key
from fti.errors import ConflictError, IntegrityError, NotFoundError, ValidationError
from fti.faults import kill_point
from fti.registry.collection import CollectedFiles, collect_unregistered
from fti.registry.deletion import DeletedVersion, delete_version
from fti.registry.environment import CODE_FOLDER, check_requirements, install_code, package_code, write_requirements
from fti.registry.flavors import ReferencingFlavor, detect_flavor, get_flavor
from fti.registry.lineage import ModelLineage, ModelVersionRef, RunLineage, TrainingDataUsage
from fti.registry.signatures import as_arrow, infer_signature, to_signature
from fti.registry.version import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

    from fti.artifacts import ArtifactService
    from fti.backends.ports import CatalogStore

__all__ = ["Explainer", "ModelRegistry", "parse_model_ref"]

#: per-row attributions of a loaded model's predictions for a frame of its inputs (one column per model input)
Explainer = Callable[[Any, "pd.DataFrame"], "pd.DataFrame"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_REF = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>[^:@]*)|@(?P<alias>[^:@]*))?$")


def parse_model_ref(ref: str) -> tuple[str, int | None, str | None]:
    """Split ``"name"``, ``"name:3"`` or ``"name@champion"`` into (name, version, alias)."""
    match = _REF.match(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise ValidationError(
            f"Invalid model reference {ref!r}: use 'name' (latest version), 'name:3' or 'name@champion'."
        )
    name = validate_model_name(match["name"])
    version_text, alias = match["version"], match["alias"]
    if version_text is not None:
        if not version_text.isdigit() or int(version_text) < 1:
            raise ValidationError(
                f"Invalid model reference {ref!r}: the version after ':' must be a positive number, like 'name:3'."
            )
        return name, int(version_text), None
    if alias is not None:
        return name, None, validate_alias(alias)
    return name, None, None


class ModelRegistry:
    """Registered models and their versions in the catalog; model files in the artifact store."""

    def __init__(
        self, catalog: CatalogStore, artifacts: ArtifactService, *, explainer: Explainer | None = None
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._explainer = explainer

    def explain_rows(self, model: Any, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row attributions of ``model`` on ``frame`` by the explainer this registry was given."""
        if self._explainer is None:
            raise ValidationError("This model registry has no explainer: open the project with fti.connect().")
        return self._explainer(model, frame)

    # -- registering -------------------------------------------------------------------------------

    def log_model(
        self,
        origin: ModelOrigin,
        model: Any,
        name: str,
        *,
        signature: Any = None,
        input_example: Any = None,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        code_paths: Sequence[str | Path] = (),
        pip_requirements: Sequence[str] = (),
    ) -> ModelVersion:
        """Save ``model`` with the run of ``origin`` and register it as the next version of ``name``.

        ``code_paths`` (the model's own modules) and ``pip_requirements`` travel with the model files; see
        :mod:`fti.registry.environment`.
        """
        validate_model_name(name)
        tag_values = {validate_value_key(key, "tag"): str(value) for key, value in (tags or {}).items()}
        flavor = detect_flavor(model)
        resolved = self._signature(model, flavor.name, signature, input_example, origin)
        prefix = f"runs/{origin.run_id}/models/{name}-{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory(prefix="fti-model-") as scratch:
            package_code(code_paths, Path(scratch), model=name)
            write_requirements(Path(scratch), flavor.name, pip_requirements, model=name)
            options = flavor.save(model, Path(scratch))
            self._artifacts.put_dir(prefix, scratch)
        training_data = origin.training_data
        now = datetime.now(UTC)
        with self._catalog.transaction() as tx:
            version = tx.registry.next_version(name, now)
            record = ModelVersionRecord(
                name=name,
                version=version,
                flavor=flavor.name,
                artifact_prefix=prefix,
                created_at=now,
                run_id=origin.run_id,
                signature=resolved,
                flavor_options=json.loads(json.dumps(options, default=str)),
                metrics=dict(origin.metrics),
                description=description,
                tags=tag_values,
                training_dataset_name=None if training_data is None else training_data.feature_view_name,
                training_dataset_version=None if training_data is None else training_data.training_dataset_version,
            )
            tx.registry.add_version(record)
            tx.events.append(new_event("model_version", name, version=version, run_id=origin.run_id))
            tx.audit.append(audit_entry("model_version.register", f"{name}:{version}", run_id=origin.run_id))
            kill_point("registry.before_version_commit")
        kill_point("registry.after_version_commit")
        return ModelVersion(self, record)

    def _signature(
        self, model: Any, flavor: str, signature: Any, example: Any, origin: ModelOrigin
    ) -> Signature | None:
        if signature is not None:
            return to_signature(signature)
        if example is not None:
            names = getattr(model, "feature_names_in_", None)
            table = as_arrow(example, column_names=None if names is None else [str(item) for item in names])
            frame = table.to_pandas()
            prediction = get_flavor(flavor).predict(model, frame, {})
            return infer_signature(table, prediction)
        schema = origin.feature_schema
        if schema is not None:
            return to_signature(schema)
        return None

    # -- reading -----------------------------------------------------------------------------------

    def get_model(self, ref: str) -> ModelVersion:
        """Resolve ``"name"`` (latest), ``"name:3"`` or ``"name@alias"`` to a version."""
        name, version, alias = parse_model_ref(ref)
        with self._catalog.reading() as tx:
            model = tx.registry.find_model(name)
            if model is None:
                raise NotFoundError(f"No model '{name}' is registered: log one with run.log_model(model, '{name}').")
            if alias is not None:
                if alias not in model.aliases:  # read with the model, in the same snapshot
                    known = ", ".join(sorted(model.aliases)) or "none"
                    raise NotFoundError(
                        f"Model '{name}' has no alias '{alias}' (its aliases: {known}). "
                        f"Set it with project.get_model('{name}:<version>').set_alias('{alias}')."
                    )
                version = model.aliases[alias]
            record = tx.registry.find_version(name, version)
        if record is None:
            raise NotFoundError(
                f"Model '{name}' has no version {version}: its versions are 1 to {model.latest_version}."
            )
        note_read(f"model_version:{name}:{record.version}")
        return ModelVersion(self, record)

    def get_record(self, name: str, version: int) -> ModelVersionRecord:
        """The record of one version."""
        with self._catalog.reading() as tx:
            record = tx.registry.find_version(name, version)
        if record is None:
            raise NotFoundError(f"Model '{name}' has no version {version}.")
        return record

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model."""
        with self._catalog.reading() as tx:
            return tx.registry.list_models()

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        validate_model_name(name)
        with self._catalog.reading() as tx:
            if tx.registry.find_model(name) is None:
                raise NotFoundError(f"No model '{name}' is registered.")
            records = tx.registry.list_versions(name)
        return [ModelVersion(self, record) for record in records]

    def load_model(self, record: ModelVersionRecord) -> Any:
        """Download the version's files (each verified against its sha256) and load them with its flavor.

        Its recorded requirements are checked first (RequirementError names a missing or mismatched one),
        and its packaged code is put on ``sys.path``.
        """
        flavor = get_flavor(record.flavor)
        files = self._artifacts.list(record.artifact_prefix + "/")
        if not files:
            raise NotFoundError(
                f"Model '{record.name}' v{record.version} has no files under '{record.artifact_prefix}/' "
                "in the artifact store."
            )
        with tempfile.TemporaryDirectory(prefix="fti-load-") as scratch:
            for item in files:
                relative = item.key[len(record.artifact_prefix) + 1 :]
                try:
                    self._artifacts.get_file(item.key, Path(scratch) / relative)
                except IntegrityError as exc:
                    raise IntegrityError(f"Refusing to load model '{record.name}' v{record.version}: {exc}") from exc
            check_requirements(Path(scratch), model=f"Model '{record.name}' v{record.version}")
            install_code(Path(scratch))
            if isinstance(flavor, ReferencingFlavor):
                return flavor.load_referencing(Path(scratch), record.flavor_options, self._load_reference)
            return flavor.load(Path(scratch), record.flavor_options)

    def _load_reference(self, ref: str) -> Any:
        """The loaded model of another version a model builds on (a LoRA adapter's base model)."""
        return self.get_model(ref).load()

    def code_files(self, record: ModelVersionRecord) -> list[str]:
        """Relative paths of the code packaged with a version (its ``code_paths``), without downloading it."""
        prefix = f"{record.artifact_prefix}/{CODE_FOLDER}/"
        return sorted(item.key[len(prefix) :] for item in self._artifacts.list(prefix))

    # -- changing ----------------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int, *, protected: bool, force: bool, reason: str | None
    ) -> None:
        """Point ``alias`` at ``version``, recording the move; a protected alias needs ``force``."""
        validate_alias(alias)
        with self._catalog.transaction() as tx:
            if tx.registry.find_version(name, version) is None:
                raise NotFoundError(f"Model '{name}' has no version {version}.")
            current = tx.registry.find_alias(name, alias)
            if current is not None and current.version == version and (current.is_protected or not protected):
                return
            if current is not None and current.is_protected and not force:
                raise ConflictError(
                    f"Alias '{alias}' of model '{name}' is protected and points at v{current.version}: "
                    f"pass force=True (and a reason) to move it to v{version}."
                )
            is_protected = protected or (current is not None and current.is_protected)
            move = self._move(name, alias, current, version, is_protected, force, reason)
            tx.registry.set_alias(ModelAlias(name, alias, version, is_protected), move)
            tx.audit.append(
                audit_entry(
                    "alias.set", f"{name}@{alias}", from_version=move.from_version, to_version=version, force=force
                )
            )
            tx.events.append(new_event("alias", name, alias=alias, from_version=move.from_version, to_version=version))
            kill_point("alias.before_commit")

    def delete_alias(self, name: str, alias: str, *, force: bool, reason: str | None) -> None:
        """Remove ``alias``, recording it; a protected alias needs ``force``."""
        validate_alias(alias)
        with self._catalog.transaction() as tx:
            current = tx.registry.find_alias(name, alias)
            if current is None:
                raise NotFoundError(f"Model '{name}' has no alias '{alias}'.")
            if current.is_protected and not force:
                raise ConflictError(
                    f"Alias '{alias}' of model '{name}' is protected: pass force=True (and a reason) to delete it."
                )
            tx.registry.delete_alias(
                name, alias, self._move(name, alias, current, None, current.is_protected, force, reason)
            )
            tx.audit.append(audit_entry("alias.delete", f"{name}@{alias}", from_version=current.version, force=force))
            tx.events.append(new_event("alias", name, alias=alias, from_version=current.version, to_version=None))

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded alias move of ``name``."""
        with self._catalog.reading() as tx:
            return tx.registry.alias_history(name, alias)

    def set_tags(self, name: str, version: int, tags: Mapping[str, Any]) -> None:
        """Set tags on a version."""
        values = {validate_value_key(key, "tag"): str(value) for key, value in tags.items()}
        with self._catalog.transaction() as tx:
            tx.registry.set_version_tags(name, version, values)
            tx.audit.append(audit_entry("model_version.tag", f"{name}:{version}", tags=values))

    def set_description(self, name: str, version: int, text: str) -> None:
        """Replace a version's description."""
        if not isinstance(text, str):
            raise ValidationError(f"A description is text, got {type(text).__name__}.")
        with self._catalog.transaction() as tx:
            tx.registry.set_description(name, version, text)
            tx.audit.append(audit_entry("model_version.describe", f"{name}:{version}"))

    # -- lineage -----------------------------------------------------------------------------------

    def lineage(self, record: ModelVersionRecord) -> ModelLineage:
        """The run and training data behind a version."""
        with self._catalog.reading() as tx:
            run = None if record.run_id is None else tx.tracking.find_run(record.run_id)
            training_data = None if record.run_id is None else tx.tracking.find_training_data(record.run_id)
        base = record.flavor_options.get("base_model")
        return ModelLineage(
            model=ModelVersionRef(record.name, record.version),
            run=run,
            training_data=training_data,
            base_model=None if base is None else str(base),
        )

    def lineage_of(self, target: object) -> ModelLineage | RunLineage | TrainingDataUsage:
        """Lineage from any end: a model version (or its reference), a run id, a training dataset."""
        if isinstance(target, ModelVersion):
            return target.lineage()
        if isinstance(target, TrainingDataLineage):
            return self.training_data_usage(target)
        if isinstance(target, TrainingDataRef):
            return self.training_data_usage(TrainingDataLineage.from_ref(target))
        if isinstance(target, str):
            if _RUN_ID.match(target):
                return self.run_lineage(target)
            return self.get_model(target).lineage()
        raise ValidationError(
            f"Cannot trace the lineage of a {type(target).__name__}: pass a model version, a run, a training "
            "dataset, a model reference such as 'name:3' or a run id."
        )

    def run_lineage(self, run_id: str) -> RunLineage:
        """A run, its training data, its nested runs and the versions it logged."""
        children = RunSearch(filter=Comparison(kind="attribute", key="parent_run_id", op="=", value=run_id))
        with self._catalog.reading() as tx:
            run = tx.tracking.find_run(run_id)
            if run is None:
                raise NotFoundError(f"Run '{run_id}' does not exist: list runs with `fti runs list`.")
            training_data = tx.tracking.find_training_data(run_id)
            child_ids = tuple(item.id for item in tx.tracking.search_runs(children))
            versions = tx.registry.versions_for_runs([run_id])
        return RunLineage(
            run=run,
            training_data=training_data,
            child_run_ids=child_ids,
            model_versions=tuple(ModelVersionRef(item.name, item.version) for item in versions),
        )

    def training_data_usage(self, training_data: TrainingDataLineage) -> TrainingDataUsage:
        """The runs that read a training dataset version and the model versions built from it."""
        with self._catalog.reading() as tx:
            run_ids = tx.tracking.runs_for_training_data(
                training_data.feature_view_name,
                training_data.feature_view_version,
                training_data.training_dataset_version,
            )
            versions = tx.registry.versions_for_runs(run_ids) if run_ids else []
        return TrainingDataUsage(
            feature_view_name=training_data.feature_view_name,
            feature_view_version=training_data.feature_view_version,
            training_dataset_version=training_data.training_dataset_version,
            run_ids=tuple(sorted(run_ids)),
            model_versions=tuple(ModelVersionRef(item.name, item.version) for item in versions),
        )

    def collect_unregistered(self, grace: timedelta = timedelta(minutes=10)) -> CollectedFiles:
        """Remove the files of registrations that never finished (see :mod:`fti.registry.collection`)."""
        return collect_unregistered(self._catalog, self._artifacts, grace=grace)

    def delete_model_version(self, ref: str, *, force: bool = False) -> DeletedVersion:
        """Delete the version ``ref`` names, with its files (see :mod:`fti.registry.deletion`)."""
        target = self.get_model(ref)

        def resolves_to(reference: str) -> tuple[str, int] | None:
            try:
                found = self.get_model(reference)
            except NotFoundError:
                return None
            return found.name, found.version

        return delete_version(
            self._catalog,
            self._artifacts,
            target.name,
            target.version,
            force=force,
            resolves_to=resolves_to,
            changed_by=_user(),
        )

    @staticmethod
    def _move(
        name: str,
        alias: str,
        current: ModelAlias | None,
        to_version: int | None,
        is_protected: bool,
        force: bool,
        reason: str | None,
    ) -> AliasMove:
        return AliasMove(
            model=name,
            alias=alias,
            from_version=None if current is None else current.version,
            to_version=to_version,
            is_protected=is_protected,
            is_forced=bool(force and current is not None and current.is_protected),
            changed_by=_user(),
            changed_at=datetime.now(UTC),
            reason=reason,
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"
