"""SciPy's probability distributions and special functions, imported on first use (they come with the ``monitoring``
extra). ``scipy.special`` alone imports in a fraction of the time ``scipy.stats`` takes, so code that needs only a
distribution function (a t tail) asks for it."""

from __future__ import annotations

from typing import Any

from fti.errors import MissingExtraError

__all__ = ["scipy_special", "scipy_stats"]


_MISSING = "Monitoring statistics need SciPy, from the 'monitoring' extra: pip install 'fti[monitoring]'"


def scipy_stats() -> Any:
    """The ``scipy.stats`` module, or a MissingExtraError saying which extra to install."""
    try:
        from scipy import stats
    except ImportError as exc:  # pragma: no cover - scipy ships with the dev extra
        raise MissingExtraError(_MISSING) from exc
    return stats


def scipy_special() -> Any:
    """The ``scipy.special`` module, or a MissingExtraError saying which extra to install."""
    try:
        from scipy import special
    except ImportError as exc:  # pragma: no cover - scipy ships with the dev extra
        raise MissingExtraError(_MISSING) from exc
    return special
