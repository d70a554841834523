"""Defining pipelines: ``@fti.pipeline(...)`` on a function, or a pipeline of several steps.

Everything is checked where the pipeline is defined (cron expression, time zone, catch-up policy,
triggers, durations, that each step can be imported by a fresh process), and errors name the file and
line. Pipelines defined while :func:`collecting` is active (as the loader imports a pipelines module)
are gathered for registration.

Example:
    >>> @fti.pipeline(schedule="0 * * * *", triggers=[fti.on_alert("fraud", "drift")], retries=2,
    ...               timeout="30m")  # doctest: +SKIP
    ... def retrain(ctx):
    ...     ctx.logger.info("retraining after %s", ctx.event)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, overload

from fti.core.durations import parse_duration
from fti.core.naming import validate_identifier
from fti.core.pipelines import Catchup, PipelineSpec, Trigger
from fti.errors import ValidationError
from fti.orchestration.triggers import parse_trigger, validate_schedule

if TYPE_CHECKING:
    from fti.orchestration.context import PipelineContext

__all__ = ["FILE_MODULE_PREFIX", "Pipeline", "Step", "collecting", "define_pipeline", "pipeline"]

Step = Callable[["PipelineContext"], Any]
#: modules the loader imports from ``.py`` files get names starting with this
FILE_MODULE_PREFIX = "_fti_pipelines_"

_collected: ContextVar[list[Pipeline] | None] = ContextVar("fti_collected_pipelines", default=None)


class Pipeline:
    """A named pipeline: its spec (schedule, triggers, retries, ...) and its steps. Calling it runs the steps."""

    def __init__(self, spec: PipelineSpec, steps: Sequence[Step]) -> None:
        self.spec = spec
        self.steps = tuple(steps)
        self.__doc__ = steps[0].__doc__ if len(steps) == 1 else spec.description
        found = _collected.get()
        if found is not None:
            found.append(self)

    @property
    def name(self) -> str:
        """The pipeline's name."""
        return self.spec.name

    def __call__(self, ctx: PipelineContext) -> None:
        for step in self.steps:
            step(ctx)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, defined at {self.spec.defined_at})"


@contextmanager
def collecting() -> Iterator[list[Pipeline]]:
    """Gather every pipeline defined inside the block (while a module is imported)."""
    found: list[Pipeline] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)


def define_pipeline(
    steps: Step | Sequence[Step],
    *,
    name: str | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
    catchup: Catchup = "latest",
    triggers: Sequence[Trigger | str] = (),
    retries: int = 0,
    retry_delay: str | float | timedelta = "30s",
    timeout: str | float | timedelta | None = None,
    concurrency: int = 1,
    params: Mapping[str, Any] | None = None,
    description: str | None = None,
    defined_at: str | None = None,
) -> Pipeline:
    """Build and check a pipeline from one function or a sequence of steps (see :func:`pipeline`).

    Raises:
        ValidationError: an argument does not parse, or a step cannot be imported by another process;
            the message starts with the file and line of the definition.
    """
    functions = [steps] if callable(steps) else list(steps)
    where = defined_at or (_location(functions[0]) if functions else _caller(2))
    chosen: str = name or (str(getattr(functions[0], "__name__", "")) if len(functions) == 1 else "")
    options = _Options(
        schedule, timezone, catchup, tuple(triggers), retries, retry_delay, timeout, concurrency, params, description
    )
    try:
        spec = _spec(functions, chosen, where, options)
    except ValidationError as exc:
        label = f"pipeline '{chosen}'" if chosen else "a pipeline"
        raise ValidationError(f"{where}: {label}: {exc}") from None
    return Pipeline(spec, functions)


@overload
def pipeline(function: Step, /) -> Pipeline: ...


@overload
def pipeline(
    function: None = None,
    /,
    *,
    name: str | None = None,
    schedule: str | None = None,
    timezone: str = "UTC",
    catchup: Catchup = "latest",
    triggers: Sequence[Trigger | str] = (),
    retries: int = 0,
    retry_delay: str | float | timedelta = "30s",
    timeout: str | float | timedelta | None = None,
    concurrency: int = 1,
    params: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Callable[[Step], Pipeline]: ...


def pipeline(function: Step | None = None, /, **options: Any) -> Pipeline | Callable[[Step], Pipeline]:
    """Make a function a pipeline the scheduler runs on a schedule, on catalog events, or by hand.

    The function takes a :class:`fti.orchestration.PipelineContext` (the project, the triggering event,
    the scheduled time, params, a logger). Define it at the top of a module listed under ``pipelines:``
    in ``fti.yaml`` (or register it with ``project.register_pipeline``).

    Args:
        name: the pipeline's name (default: the function's).
        schedule: a cron expression, e.g. ``"0 * * * *"`` (6 fields: seconds last).
        timezone: the IANA time zone the schedule is read in.
        catchup: slots missed while no scheduler ran: ``"latest"`` runs the newest, ``"all"`` each,
            ``"none"`` none.
        triggers: ``fti.on_commit(...)``, ``fti.on_alert(...)``, ... or their text form (``"commit:cards"``).
        retries: how many times a failed or timed-out run is tried again.
        retry_delay: the wait before the first retry, doubled for each further one.
        timeout: a run still running after this long is stopped (``"30m"``).
        concurrency: at most this many runs of the pipeline at once, over every scheduler.
        params: the params a run takes, with their defaults (``--param k=v`` overrides them).
        description: shown by ``fti pipelines list`` (default: the docstring's first line).

    Example:
        >>> @fti.pipeline(schedule="0 * * * *", triggers=[fti.on_commit("transactions")])  # doctest: +SKIP
        ... def features(ctx): ...
    """
    where = _caller(2)
    if function is not None:
        return define_pipeline(function, defined_at=_location(function), **options)

    def decorate(decorated: Step) -> Pipeline:
        return define_pipeline(decorated, defined_at=_location(decorated), **options)

    _check_options(where, options)  # arguments that do not parse are refused here, at the decorator's line
    return decorate


@dataclass(frozen=True, slots=True)
class _Options:
    """The options of :func:`pipeline`, as given (checked by :func:`_spec`)."""

    schedule: str | None = None
    timezone: str = "UTC"
    catchup: Catchup = "latest"
    triggers: tuple[Trigger | str, ...] = ()
    retries: int = 0
    retry_delay: str | float | timedelta = "30s"
    timeout: str | float | timedelta | None = None
    concurrency: int = 1
    params: Mapping[str, Any] | None = None
    description: str | None = None


def _check_options(where: str, options: Mapping[str, Any]) -> None:
    name = options.get("name")
    label = f"pipeline '{name}'" if name else "a pipeline"
    values = {key: value for key, value in options.items() if key != "name"}
    unknown = sorted(set(values) - set(_Options.__dataclass_fields__))
    if unknown:
        raise ValidationError(f"{where}: {label}: unknown option '{unknown[0]}' of @fti.pipeline.")
    if "triggers" in values:
        values["triggers"] = tuple(values["triggers"])
    try:
        _spec([], name or "unnamed", where, _Options(**values))
    except ValidationError as exc:
        raise ValidationError(f"{where}: {label}: {exc}") from None


def _spec(functions: Sequence[Step], name: str, where: str, options: _Options) -> PipelineSpec:
    validate_identifier(name, "pipeline name")
    if options.schedule is not None or options.timezone != "UTC" or options.catchup != "latest":
        validate_schedule(options.schedule or "* * * * *", options.timezone, options.catchup)
    parsed = tuple(parse_trigger(item) if isinstance(item, str) else item for item in options.triggers)
    for trigger in parsed:
        if not isinstance(trigger, Trigger):
            raise ValidationError(f"trigger {trigger!r} is neither a trigger (fti.on_commit(...)) nor its text.")
        if trigger.kind == "pipeline_run" and trigger.subject == name:
            raise ValidationError(f"trigger '{trigger}' would start the pipeline after each of its own runs.")
    retries, concurrency = options.retries, options.concurrency
    if not isinstance(retries, int) or retries < 0:
        raise ValidationError(f"retries must be a whole number of at least 0, got {retries!r}.")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError(f"concurrency must be a whole number of at least 1, got {concurrency!r}.")
    defaults = {validate_identifier(str(key), "param"): str(value) for key, value in (options.params or {}).items()}
    first_doc = (functions[0].__doc__ or "").strip().splitlines() if len(functions) == 1 else []
    description = options.description
    return PipelineSpec(
        name=name,
        steps=tuple(_reference(function) for function in functions),
        schedule=options.schedule,
        timezone=options.timezone,
        catchup=options.catchup,
        triggers=parsed,
        retries=retries,
        retry_delay=parse_duration(options.retry_delay, what="retry_delay"),
        timeout=None if options.timeout is None else parse_duration(options.timeout, what="timeout"),
        concurrency=concurrency,
        params=defaults,
        description=description if description is not None else (first_doc[0] if first_doc else ""),
        defined_at=where,
    )


def _reference(function: Step) -> str:
    """``module:qualname`` a fresh process imports the step by (a file path for modules loaded from files)."""
    module_name = getattr(function, "__module__", None) or ""
    qualname = getattr(function, "__qualname__", "") or ""
    if (
        not callable(function)
        or not qualname
        or "<" in qualname
        or module_name in ("", "__main__")
        or module_name not in sys.modules
    ):
        raise ValidationError(
            f"step {function!r} cannot be imported by the scheduler's processes: define it with `def` at the top "
            "of a module (not in __main__, a notebook or another function)."
        )
    if module_name.startswith(FILE_MODULE_PREFIX):
        module_name = str(getattr(sys.modules[module_name], "__file__", module_name))
    return f"{module_name}:{qualname}"


def _location(function: Any) -> str:
    code = getattr(function, "__code__", None)
    if code is None:
        return _caller(3)
    return f"{code.co_filename}:{code.co_firstlineno}"


def _caller(depth: int) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
