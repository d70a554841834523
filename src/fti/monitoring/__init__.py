"""Monitoring: drift, data quality, performance over time, A/B analysis, alerts and reports.

Pure functions and small classes over Arrow tables, pandas and numpy; the closed loop (the request log,
deployments, retraining) calls them. One module per concern:

- :mod:`~fti.monitoring.reference`: the reference profile built once from training data
- :mod:`~fti.monitoring.drift`: per-feature and dataset drift against the profile
- :mod:`~fti.monitoring.windows`: drift over time, window by window
- :mod:`~fti.monitoring.quality`: data quality of live inputs against the profile
- :mod:`~fti.monitoring.performance`: model metrics over time per model version
- :mod:`~fti.monitoring.ab`: A/B analysis with significance tests and sample sizes
- :mod:`~fti.monitoring.alerts`: alert rules and their actions
- :mod:`~fti.monitoring.html_report`: the self-contained HTML report
"""

from __future__ import annotations
