"""The Ray executor's settings and the error when Ray is not installed (no cluster needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fti.backends.kinds import create_backend
from fti.errors import ValidationError


def test_a_malformed_address_is_refused_with_the_forms_it_takes() -> None:
    with pytest.raises(ValidationError, match=r"executor.address.*'head' is not a Ray cluster address.*'host:port'"):
        create_backend("executor", "ray", {"address": "head"})


def test_a_negative_resource_is_refused() -> None:
    with pytest.raises(ValidationError, match="executor.resources.*GPU below 0"):
        create_backend("executor", "ray", {"resources": {"CPU": 1, "GPU": -1}})


def test_importing_fti_does_not_import_ray() -> None:
    code = "import sys, fti; fti.connect; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_without_ray_the_error_names_the_extra() -> None:
    # a Python whose import system finds no 'ray' package, as where the extra is not installed
    code = (
        "import sys\n"
        "class NoRay:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ray' or name.startswith('ray.'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, NoRay())\n"
        "from fti.backends.kinds import create_backend\n"
        "try:\n"
        "    create_backend('executor', 'ray', {})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output == "MissingExtraError Backend 'ray' needs the 'ray' extra: pip install 'fti[ray]'\n"
