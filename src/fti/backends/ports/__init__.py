"""The Protocols every backend implements (STYLE.md B1-B8).

Interfaces are narrow and storage-level: bytes for artifacts, transactional record CRUD for the
catalog, keyed Arrow rows for the online store, independent tasks for the executor. Versioning, checksums,
lineage, TTL and the other semantics live once in the services above. Every method is required; an optional
capability is a separate Protocol. Every backend class is a :class:`BackendFactory` of its port.

Methods say what they do in one vocabulary (STYLE.md N2): ``add`` inserts a new record, ``put`` inserts or
replaces one, ``set_*`` replaces values of an existing record, ``find*`` returns None when nothing matches,
``get*`` raises NotFoundError, ``list*`` and plural nouns return collections, ``delete`` removes.

:mod:`~fti.backends.ports.storage` holds the lifecycle, the factory, the data stores and the executor;
:mod:`~fti.backends.ports.catalog` the catalog's record Protocols.
"""

from __future__ import annotations

from fti.backends.ports.catalog import (
    ArtifactRecords,
    AuditRecords,
    CatalogStore,
    CatalogTransaction,
    DeploymentRecords,
    EventRecords,
    FeatureGroupRecords,
    FeatureViewRecords,
    PipelineRecords,
    RegistryRecords,
    SourceCursorRecords,
    TokenRecords,
    TrackingRecords,
    TrainingDatasetRecords,
)
from fti.backends.ports.storage import (
    ArtifactStore,
    BackendFactory,
    CompactingStore,
    Connectable,
    Executor,
    OfflineStore,
    OnlineStore,
    ScanningStore,
    TaskHandle,
)
from fti.backends.ports.streams import StreamBroker, StreamMessages, StreamOutput

__all__ = [
    "ArtifactRecords",
    "ArtifactStore",
    "AuditRecords",
    "BackendFactory",
    "CatalogStore",
    "CatalogTransaction",
    "CompactingStore",
    "Connectable",
    "DeploymentRecords",
    "EventRecords",
    "Executor",
    "FeatureGroupRecords",
    "FeatureViewRecords",
    "OfflineStore",
    "OnlineStore",
    "PipelineRecords",
    "RegistryRecords",
    "ScanningStore",
    "SourceCursorRecords",
    "StreamBroker",
    "StreamMessages",
    "StreamOutput",
    "TaskHandle",
    "TokenRecords",
    "TrackingRecords",
    "TrainingDatasetRecords",
]
