"""Generation parameters: their ranges, defaults, and how requests and calls override them.

:class:`GenerationParams` is checked when it is built, so an out-of-range value fails with a
:class:`~fti.errors.ParameterError` naming the parameter (the model server answers it with 422 and the
field). ``temperature == 0`` means greedy decoding; ``top_k == 0`` and ``top_p == 1`` switch those
filters off; a ``seed`` makes sampling reproducible (each request draws from its own generator, so the
result does not depend on what else is in its batch).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fti.errors import ParameterError

__all__ = ["MAX_NEW_TOKENS", "MAX_STOP_SEQUENCES", "GenerationParams"]

#: the most tokens one request may ask for
MAX_NEW_TOKENS = 4096
#: the most stop sequences of one request (as in the OpenAI API)
MAX_STOP_SEQUENCES = 4
_MAX_SEED = 2**63 - 1


def _number(name: str, value: Any, *, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise ParameterError(name, f"Generation parameter '{name}' must be {kind}, got {value!r}.")
    if integer and (isinstance(value, float) and not value.is_integer()):
        raise ParameterError(name, f"Generation parameter '{name}' must be an integer, got {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(name, f"Generation parameter '{name}' must be finite, got {value!r}.")
    return float(value)


def _in_range(name: str, value: Any, low: float, high: float, *, integer: bool = False, open_low: bool = False) -> None:
    number = _number(name, value, integer=integer)
    if number < low or number > high or (open_low and number == low):
        bracket = "(" if open_low else "["
        shown = (f"{int(low)}", f"{int(high)}") if integer else (f"{low:g}", f"{high:g}")
        raise ParameterError(
            name, f"Generation parameter '{name}' must be in {bracket}{shown[0]}, {shown[1]}], got {value!r}."
        )


def _stops(value: Any) -> tuple[str, ...]:
    stops = (value,) if isinstance(value, str) else value
    if not isinstance(stops, tuple | list) or not all(isinstance(item, str) for item in stops):
        raise ParameterError(
            "stop", f"Generation parameter 'stop' must be a string or a list of strings, got {value!r}."
        )
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ParameterError(
            "stop", f"Generation parameter 'stop' has {len(stops)} sequences; at most {MAX_STOP_SEQUENCES} are allowed."
        )
    if any(not item for item in stops):
        raise ParameterError("stop", "Generation parameter 'stop' has an empty string: every stop sequence needs text.")
    return tuple(stops)


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """How to generate: length, sampling filters, penalties, stop sequences and seed.

    Attributes:
        max_new_tokens: the most tokens to generate (1 to 4096, and the prompt plus these must fit the
            model's context).
        temperature: 0 decodes greedily; higher values (up to 2) flatten the distribution.
        top_k: sample among the ``top_k`` most likely tokens (0: all).
        top_p: sample among the most likely tokens whose probabilities add up to ``top_p`` (1: all).
        repetition_penalty: above 1 discourages tokens already in the prompt or the output (0 < value <= 10).
        stop: up to 4 strings; generation ends before the first one and it is not returned.
        seed: seeds this request's sampling (None: a fresh random seed).

    Example:
        >>> GenerationParams(temperature=0.7, top_p=0.9).replace(max_new_tokens=32).max_new_tokens
        32
    """

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        _in_range("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS, integer=True)
        _in_range("temperature", self.temperature, 0, 2)
        _in_range("top_k", self.top_k, 0, 1_000_000, integer=True)
        _in_range("top_p", self.top_p, 0, 1, open_low=True)
        _in_range("repetition_penalty", self.repetition_penalty, 0, 10, open_low=True)
        if self.seed is not None:
            _in_range("seed", self.seed, 0, _MAX_SEED, integer=True)
        object.__setattr__(self, "stop", _stops(self.stop))
        object.__setattr__(self, "max_new_tokens", int(self.max_new_tokens))
        object.__setattr__(self, "top_k", int(self.top_k))
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "top_p", float(self.top_p))
        object.__setattr__(self, "repetition_penalty", float(self.repetition_penalty))
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    @property
    def is_greedy(self) -> bool:
        """Whether decoding picks the most likely token every time (temperature 0)."""
        return self.temperature == 0

    def replace(self, **changes: Any) -> GenerationParams:
        """A copy with ``changes`` (None values are ignored); unknown names raise a ParameterError."""
        known = {item.name for item in dataclasses.fields(self)}
        for name in changes:
            if name not in known:
                raise ParameterError(name, f"Unknown generation parameter '{name}': use {', '.join(sorted(known))}.")
        given = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (stop sequences as a list)."""
        values = dataclasses.asdict(self)
        values["stop"] = list(self.stop)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GenerationParams:
        """The inverse of :meth:`to_dict` (unknown keys are ignored, for files written by newer versions)."""
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})
