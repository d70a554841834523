"""Expectations checked on every insert into a feature group: ``fti.expect.not_null("cc_num")``."""

from __future__ import annotations

from fti.features.expectations import Expectation, between, custom, in_set, matches, not_null, unique

__all__ = ["Expectation", "between", "custom", "in_set", "matches", "not_null", "unique"]
