"""Where the activity page links each change's target: its page while it exists, nothing once deleted."""

from __future__ import annotations

import pytest

from fti.ui.activity import link


@pytest.mark.parametrize(
    ("action", "target", "expected"),
    [
        ("feature_group.insert", "card_activity v2", "/feature-groups/card_activity/2"),
        ("feature_view.create", "fraud v1", "/feature-views/fraud/1"),
        ("training_dataset.create", "fraud v1/3", "/feature-views/fraud/1"),
        ("run.end", "0123abcd", "/runs/0123abcd"),
        ("model_version.register", "fraud-detector:2", "/models/fraud-detector/versions/2"),
        ("alias.set", "fraud-detector@champion", "/models/fraud-detector"),
        ("deployment.create", "fraud", "/deployments/fraud"),
        ("feedback", "fraud", "/deployments/fraud"),
        ("pipeline.run", "nightly", "/pipelines/nightly"),
        ("feature_group.vacuum", "card_activity v2", "/feature-groups/card_activity/2"),
        ("model_files.collect", "runs/0123abcd/models/scorer-0badf00d/", None),
        ("feature_group.delete", "card_activity v2", None),
        ("model_version.delete", "fraud-detector:2", None),
        ("token.create", "ci", None),
        ("session.login", "dashboard", None),
        ("experiment.delete", "fraud", None),
        ("feature_group.create", "oddly named", None),
    ],
)
def test_a_target_links_to_its_page_while_it_exists(action: str, target: str, expected: str | None) -> None:
    assert link(action, target) == expected
