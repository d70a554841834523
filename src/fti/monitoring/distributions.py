"""SciPy's probability distributions, imported on first use (they come with the ``monitoring`` extra)."""

from __future__ import annotations

from typing import Any

from fti.errors import MissingExtraError

__all__ = ["scipy_stats"]


def scipy_stats() -> Any:
    """The ``scipy.stats`` module, or a MissingExtraError saying which extra to install."""
    try:
        from scipy import stats
    except ImportError as exc:  # pragma: no cover - scipy ships with the dev extra
        raise MissingExtraError(
            "Monitoring statistics need SciPy, from the 'monitoring' extra: pip install 'fti[monitoring]'"
        ) from exc
    return stats
