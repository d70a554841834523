"""PyTorch ``nn.Module`` models: the pickled module (for ``load``) and its state_dict (for reuse).

The pickled module references its class, so loading needs the code that defines the module
importable; the state_dict lets the weights be restored into a freshly built module without it.
``predict`` turns the input frame into one float32 tensor (columns in signature order) and returns
the output as a numpy array (a single output column is flattened).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fti.registry.flavors.frameworks import require

__all__ = ["PytorchFlavor"]


class PytorchFlavor:
    """``torch.nn.Module`` subclasses."""

    name = "pytorch"

    def matches(self, model: Any) -> bool:
        """A subclass of torch.nn.Module (torch is not imported to find out)."""
        return any(cls.__name__ == "Module" and cls.__module__.startswith("torch.nn") for cls in type(model).__mro__)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        """torch.save the module and its state_dict."""
        torch = require("torch", "torch")
        torch.save(model, folder / "model.pt")
        torch.save(model.state_dict(), folder / "state_dict.pt")
        return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "torch_version": torch.__version__}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """The module, in evaluation mode."""
        torch = require("torch", "torch")
        # our own artifact, checked against its recorded sha256 before it gets here
        model = torch.load(folder / "model.pt", weights_only=False)
        model.eval()
        return model

    def predict(self, model: Any, frame: pd.DataFrame, options: dict[str, Any]) -> Any:
        """Run the module on a float32 tensor of the frame without tracking gradients."""
        torch = require("torch", "torch")
        tensor = torch.as_tensor(frame.to_numpy(dtype=np.float32))
        with torch.no_grad():
            output = model(tensor)
        result = output.detach().cpu().numpy()
        return result.reshape(-1) if result.ndim == 2 and result.shape[1] == 1 else result
