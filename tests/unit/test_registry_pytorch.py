"""The PyTorch flavor's save -> load -> predict round trip (skipped where torch is not installed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fti

torch = pytest.importorskip("torch")


class TinyNet(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))


def test_pytorch_module_round_trip(project: fti.Project) -> None:
    torch.manual_seed(0)
    features = pd.DataFrame({"amount": [10.0, 200.0, 35.5], "count": [1, 5, 0]})
    model = TinyNet()
    with project.start_run("flavors") as run:
        version = run.log_model(model, "net", input_example=features)
    assert version.flavor == "pytorch"
    assert version.signature is not None
    assert [col.name for col in version.signature.inputs] == ["amount", "count"]
    assert version.signature.outputs[0].type == "float"
    fresh = project.get_model("net")
    loaded = fresh.load()
    assert isinstance(loaded, TinyNet) and not loaded.training
    with torch.no_grad():
        expected = model(torch.as_tensor(features.to_numpy(dtype=np.float32))).numpy().reshape(-1)
    np.testing.assert_allclose(fresh.predict(features), expected, rtol=1e-6)
    state = torch.load(
        project.artifacts.get_file(f"{fresh.record.artifact_prefix}/state_dict.pt", project.root / "s.pt"),
        weights_only=True,
    )
    assert set(state) == {"linear.weight", "linear.bias"}
