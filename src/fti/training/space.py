"""Search spaces for tuning: ``fti.space.uniform / loguniform / int / choice``.

Example:
    >>> from fti.training import space
    >>> params = {"learning_rate": space.loguniform(1e-3, 0.3), "max_depth": space.int(2, 8)}
    >>> params["max_depth"].grid_values()
    (2, 3, 4, 5, 6, 7, 8)
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fti.errors import ValidationError

__all__ = ["Choice", "Distribution", "Int", "LogUniform", "Uniform", "choice", "int", "loguniform", "uniform"]


class _Trial(Protocol):
    """The part of an Optuna trial a distribution draws from."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(
        self, name: str, low: builtins.int, high: builtins.int, *, step: builtins.int = 1, log: bool = False
    ) -> builtins.int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def suggest(self, trial: _Trial, name: str) -> float:
        """Draw a value for parameter ``name`` from the trial."""
        return trial.suggest_float(name, self.low, self.high)

    def grid_values(self) -> tuple[Any, ...]:
        """A continuous range has no grid."""
        raise ValidationError(
            f"uniform({self.low}, {self.high}) is continuous and cannot be grid-searched. "
            "Use space.choice([...]) or space.int(...) for grid search, or the 'tpe' or 'random' sampler."
        )


@dataclass(frozen=True, slots=True)
class LogUniform:
    """A positive float drawn uniformly on a log scale from ``[low, high]``."""

    low: float
    high: float

    def suggest(self, trial: _Trial, name: str) -> float:
        """Draw a value for parameter ``name`` from the trial."""
        return trial.suggest_float(name, self.low, self.high, log=True)

    def grid_values(self) -> tuple[Any, ...]:
        """A continuous range has no grid."""
        raise ValidationError(
            f"loguniform({self.low}, {self.high}) is continuous and cannot be grid-searched. "
            "Use space.choice([...]) for grid search, or the 'tpe' or 'random' sampler."
        )


@dataclass(frozen=True, slots=True)
class Int:
    """An integer drawn from ``low, low + step, ..., high``."""

    low: builtins.int
    high: builtins.int
    step: builtins.int = 1
    log: bool = False

    def suggest(self, trial: _Trial, name: str) -> builtins.int:
        """Draw a value for parameter ``name`` from the trial."""
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self) -> tuple[Any, ...]:
        """Every integer of the range, in order."""
        return tuple(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of values (numbers, strings, booleans or None)."""

    values: tuple[Any, ...]

    def suggest(self, trial: _Trial, name: str) -> Any:
        """Draw a value for parameter ``name`` from the trial."""
        return trial.suggest_categorical(name, self.values)

    def grid_values(self) -> tuple[Any, ...]:
        """Every value, in the order given."""
        return self.values


Distribution = Uniform | LogUniform | Int | Choice


def uniform(low: float, high: float) -> Uniform:
    """A float drawn uniformly from ``[low, high]``."""
    _check_range("uniform", low, high)
    return Uniform(float(low), float(high))


def loguniform(low: float, high: float) -> LogUniform:
    """A positive float drawn on a log scale from ``[low, high]`` (learning rates, regularization)."""
    _check_range("loguniform", low, high)
    if low <= 0:
        raise ValidationError(f"loguniform({low}, {high}) needs low > 0: a log scale cannot reach {low}.")
    return LogUniform(float(low), float(high))


def int(low: builtins.int, high: builtins.int, *, step: builtins.int = 1, log: bool = False) -> Int:
    """An integer from ``low`` to ``high`` inclusive, every ``step``; ``log`` samples on a log scale."""
    _check_range("int", low, high)
    if step < 1:
        raise ValidationError(f"int({low}, {high}, step={step}) needs step >= 1.")
    return Int(builtins.int(low), builtins.int(high), step, log)


def choice(values: Sequence[Any]) -> Choice:
    """One of ``values``."""
    if isinstance(values, str) or len(values) == 0:
        raise ValidationError(f"choice({values!r}) needs a non-empty list of values, e.g. choice([0.1, 1.0]).")
    return Choice(tuple(values))


def _check_range(kind: str, low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValidationError(f"{kind}({low}, {high}) needs finite bounds with low <= high.")
