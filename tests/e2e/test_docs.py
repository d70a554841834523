"""Every Python block and every `fti ...` shell line in README.md and docs/ runs (STYLE.md D3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import SRC, RunCli

ROOT = SRC.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").rglob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for index, match in enumerate(BLOCK.finditer(document.read_text())):
            if match.group(1) == language:
                found.append((f"{document.relative_to(ROOT)}#{index}", match.group(2)))
    return found


def _python_blocks() -> list[object]:
    """The Python blocks; the LLM guide's run with the other LLM tests (one worker imports torch once)."""
    llm = pytest.mark.xdist_group("llm")
    return [
        pytest.param(where, code, id=where, marks=[llm] if where.startswith("docs/llm.md") else [])
        for where, code in _blocks("python")
    ]


@pytest.mark.parametrize(("where", "code"), _python_blocks())
def test_python_blocks_run(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize(("where", "code"), _blocks("bash"), ids=[w for w, _ in _blocks("bash")])
def test_fti_shell_lines_run(where: str, code: str, tmp_path: Path, run_cli: RunCli) -> None:
    for line in code.splitlines():
        command = line.split("#")[0].split()
        if command[:1] != ["fti"]:
            continue
        result = run_cli(*command[1:], cwd=tmp_path)
        assert result.returncode == 0, f"{where}: {line}\n{result.stdout}\n{result.stderr}"
