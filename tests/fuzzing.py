"""Fuzzing an HTTP API from its OpenAPI schema with schemathesis, operation by operation, on a bounded budget.

Schemathesis' ``positive_data_acceptance`` check is left out: a request that fits the schema can still be
refused for its meaning (a run filter that does not parse, an id nobody has) with a documented 4xx. Every
other check holds: no 5xx, only documented status codes, bodies that match their documented schema.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

#: cases per operation: a few in ``make test``, many more in ``make fuzz``
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


def fuzz(schema: schemathesis.BaseSchema, path_parameters: dict[str, str] | None = None) -> list[str]:
    """Each operation of ``schema`` with ``EXAMPLES`` generated cases, valid and invalid ones; the failures.

    ``path_parameters`` pins parameters of the paths that have them (a deployment that exists, say), so that
    the bodies are fuzzed behind the lookup instead of answering 404 at it.
    """
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        pinned = {key: value for key, value in (path_parameters or {}).items() if f"{{{key}}}" in operation.path}
        strategies = [
            operation.as_strategy(mode, path_parameters=pinned or None) for mode in schemathesis.GenerationMode
        ]

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=st.one_of(strategies))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed, then all failures are reported
            failures.append(f"{operation.label}: {exc}")
    return failures
