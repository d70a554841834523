"""Every Python block and every `fti ...` shell line in README.md and docs/ runs (STYLE.md D3).

A block right after ``<!-- file: PATH -->`` is a data file the document shows: it is written to PATH in the
folder every block of that document runs in.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import SRC, RunCli

ROOT = SRC.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").rglob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
DATA_FILE = re.compile(r"^<!-- file: (\S+) -->\n```\w*\n(.*?)^```", re.S | re.M)


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for index, match in enumerate(BLOCK.finditer(document.read_text())):
            if match.group(1) == language:
                found.append((f"{document.relative_to(ROOT)}#{index}", match.group(2)))
    return found


def _write_data_files(where: str, folder: Path) -> None:
    """Write the data files the block's document shows into ``folder``."""
    document = ROOT / where.split("#")[0]
    for match in DATA_FILE.finditer(document.read_text()):
        path = folder / match.group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match.group(2))


def _python_blocks() -> list[object]:
    """The Python blocks; the guides that load models run with the LLM tests (one worker imports torch once)."""
    llm = pytest.mark.xdist_group("llm")
    torch_guides = ("docs/llm.md", "docs/embeddings.md")
    return [
        pytest.param(where, code, id=where, marks=[llm] if where.startswith(torch_guides) else [])
        for where, code in _blocks("python")
    ]


@pytest.mark.parametrize(("where", "code"), _python_blocks())
def test_python_blocks_run(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_data_files(where, tmp_path)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize(("where", "code"), _blocks("bash"), ids=[w for w, _ in _blocks("bash")])
def test_fti_shell_lines_run(where: str, code: str, tmp_path: Path, run_cli: RunCli) -> None:
    _write_data_files(where, tmp_path)
    for line in code.splitlines():
        command = line.split("#")[0].split()
        if command[:1] != ["fti"]:
            continue
        result = run_cli(*command[1:], cwd=tmp_path)
        assert result.returncode == 0, f"{where}: {line}\n{result.stdout}\n{result.stderr}"


def test_readme_quickstart_runs_twice_in_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new user runs the quickstart, changes nothing, and runs it again: no error the second time."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    code = next(match.group(2) for match in BLOCK.finditer(section) if match.group(1) == "python")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        exec(compile(code, "README.md#quickstart", "exec"), {"__name__": "__docs__"})
    import fti

    with fti.connect(tmp_path) as project:
        assert [group.version for group in project.feature_groups()] == [1, 1]
        assert project.get_model("fraud-detector@champion").version == 2
