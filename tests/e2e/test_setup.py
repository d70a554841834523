"""`make test` sets up what it needs: tools/system-packages.sh names missing system packages and the command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_missing_system_packages_are_named_with_the_command_that_installs_them(tmp_path: Path) -> None:
    # a PATH with none of the services and no apt-get: the script cannot install, so it says what to run
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("ls", "id"):
        found = shutil.which(tool)
        assert found is not None
        (tools / tool).symlink_to(found)
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, str(ROOT / "tools" / "system-packages.sh"), "test"],
        env={"PATH": str(tools)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    first, command = result.stderr.splitlines()[:2]
    assert first.startswith("Missing system packages: redis-server") and "chromium" in first
    assert first.endswith("Install them, then run make again:")
    assert command.startswith("  sudo apt-get install -y --no-install-recommends redis-server")
    demo = subprocess.run(
        [bash, str(ROOT / "tools" / "system-packages.sh"), "demo"],
        env={"PATH": str(tools)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert demo.returncode == 2 and "Missing system packages: redis-server." in demo.stderr  # the demo needs less
