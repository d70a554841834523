"""Fuzzing an HTTP API from its OpenAPI schema with schemathesis, operation by operation, on a bounded budget.

Schemathesis' ``positive_data_acceptance`` check is left out: a request that fits the schema can still be
refused for its meaning (a run filter that does not parse, an id nobody has) with a documented 4xx. Every
other check holds: no 5xx, only documented status codes, bodies that match their documented schema.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

#: cases per operation: a few in ``make test``, many more in ``make fuzz``
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


def fuzz(schema: schemathesis.BaseSchema) -> list[str]:
    """Each operation of ``schema`` with ``EXAMPLES`` generated cases; the failures, one line each."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed, then all failures are reported
            failures.append(f"{operation.label}: {exc}")
    return failures
