"""Online stores: the latest row per primary key, for millisecond feature lookups.

Implementations of :class:`fti.backends.ports.OnlineStore`: ``sqlite`` (embedded default, one file in
WAL mode) and ``redis`` (scale-out). Both pass the contract suite in ``fti.testing.online_store``.

How the feature store service uses the port (it never imports this package; the project builds the
configured store through ``fti.backends.kinds`` and hands the service an ``OnlineStore``):

* **Tables.** One online table per feature group version, named from the group's name and version
  (e.g. ``card_activity_1``), created with ``create_table(name, primary_key, event_time, schema)`` when
  an ``online=True`` group is created or first materialized. A new version is a new table, so a
  table's definition never changes under its name; ``delete_table`` goes with deleting the version.
* **Write path.** ``insert`` commits to the offline store first, then calls ``write(table, rows)``
  with the inserted rows. The store keeps, per key, the row with the newest event time (an equal
  event time: the later write wins), atomically per row, so the service needs no read-modify-write
  and concurrent pipelines are safe. If the online write fails, the insert reports it and
  ``materialize`` repairs it.
* **Materialize.** ``fg.materialize(start, end)`` reads the offline data in batches (e.g. 100k rows,
  for the progress bar) and calls ``write`` for each: idempotent, because re-writing a row with the
  same event time changes nothing and an older one is skipped; a killed run leaves each key with its
  old or new row and running it again completes it.
* **Read path.** ``fv.get_feature_vector(s)`` validates the entity keys, then calls ``read(table,
  keys, columns)`` once per online group the view joins, with all entities of the request (one round
  trip per group). Rows come back in request order with the stored event time; the service nulls the
  values of rows whose event time is older than ``now - ttl`` and of missing keys, applies
  ``passed_features``, and orders the columns as the view defines them. TTL, feature-view semantics
  and ``allow_missing`` live in the service, never here.
"""
