"""`fti serve` refuses an entity key of the wrong type at the door, so monitoring keeps reading the log."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

import fti
from tests.integration.serving_project.conftest import CARDS, FEATURES, Served

pytestmark = [pytest.mark.e2e]


def _records(count: int) -> list[dict[str, object]]:
    random = np.random.default_rng(1)
    frame = pd.DataFrame(random.normal(size=(count, 3)), columns=FEATURES)
    frame.insert(0, "cc_num", np.arange(count) % CARDS)
    return frame.to_dict("records")


def test_a_string_key_is_refused_and_monitoring_still_reads_the_log(served: Served) -> None:
    with fti.connect(served.folder) as project:
        assert project.get_deployment("ab").entity_key_types == (("cc_num", "int64"),)  # the feature view's type
    bad = _records(2)
    bad[0]["cc_num"] = "a"
    refused = httpx.post(f"{served.url}/v1/deployments/ab/predict", json={"instances": bad}, headers=served.headers)
    assert refused.status_code == 422
    assert "entity key 'cc_num' as an integer (declared as int64): row 0 has 'a'" in refused.json()["error"]
    for start in range(0, 48, 12):
        answered = httpx.post(
            f"{served.url}/v1/deployments/ab/predict",
            json={"instances": _records(48)[start : start + 12]},
            headers=served.headers,
        )
        assert answered.status_code == 200, answered.text
    served.stop()  # SIGTERM flushes the request log
    with fti.connect(served.folder) as project:
        result = project.monitor("ab", window=48)
    assert result.window["rows"] == 48
    assert set(FEATURES) <= set(result.drift.features)
