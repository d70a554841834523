"""``fti pipelines`` and ``fti scheduler`` as a user runs them: runs by hand, history and logs, and bad
pipelines modules refused in one line with their file and line (exit 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import RunCli

pytestmark = pytest.mark.e2e

GOOD = '''
import fti


@fti.pipeline(triggers=["commit:raw"], params={"who": "world"})
def hello(ctx):
    """Says hello."""
    print(f"hello {ctx.params['who']}")


@fti.pipeline
def broken(ctx):
    raise RuntimeError("broken on purpose")
'''


def _project(folder: Path, module: str) -> Path:
    folder.mkdir()
    (folder / "jobs.py").write_text(module)
    (folder / "fti.yaml").write_text("project: cli\npipelines: [jobs.py]\n")
    return folder


def test_run_history_logs_and_once(run_cli: RunCli, tmp_path: Path) -> None:
    folder = _project(tmp_path / "p", GOOD)
    listed = run_cli("pipelines", "list", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert "hello" in listed.stdout and "commit:raw" in listed.stdout and "Says hello." in listed.stdout
    ran = run_cli("pipelines", "run", "hello", "--param", "who=fti", cwd=folder)
    assert ran.returncode == 0, ran.stderr
    assert "succeeded" in ran.stdout
    failed = run_cli("pipelines", "run", "broken", cwd=folder)
    assert failed.returncode == 1
    assert "Pipeline 'broken' failed: see `fti pipelines logs" in failed.stderr
    assert "Traceback" not in failed.stderr
    history = run_cli("pipelines", "history", cwd=folder)
    assert history.returncode == 0 and history.stdout.count("manual") == 2
    shown = run_cli("pipelines", "show", "hello", cwd=folder)
    assert shown.returncode == 0 and "triggers: ['commit:raw']" in shown.stdout
    from fti import connect

    with connect(folder) as project:
        run_id = project.pipeline_runs("hello")[0].id
    logs = run_cli("pipelines", "logs", run_id, cwd=folder)
    assert logs.returncode == 0 and "hello fti" in logs.stdout
    once = run_cli("scheduler", "--once", cwd=folder)
    assert once.returncode == 0, once.stderr
    assert "Nothing was due." in once.stdout


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (
            "import fti\n\n@fti.pipeline(schedule='0 25 * * *')\ndef nightly(ctx):\n    pass\n",
            "jobs.py:3: a pipeline: Cron",
        ),
        (
            "import fti\n\n@fti.pipeline(timezone='Nowhere/City', schedule='0 * * * *')\ndef f(ctx):\n    pass\n",
            "Time zone 'Nowhere/City' is unknown",
        ),
        (
            "import fti\n\n@fti.pipeline(triggers=['commits:raw'])\ndef f(ctx):\n    pass\n",
            "jobs.py:3: a pipeline: Trigger",
        ),
        ("import fti\nimport not_a_module_anywhere\n", "jobs.py:2: pipelines module"),
        (
            "import fti\n\n@fti.pipeline(name='x')\ndef a(ctx):\n    pass\n\n"
            "@fti.pipeline(name='x')\ndef b(ctx):\n    pass\n",
            "jobs.py:7: pipeline 'x' is already defined at",
        ),
    ],
)
def test_bad_pipelines_are_refused_when_the_scheduler_starts(
    run_cli: RunCli, tmp_path: Path, module: str, expected: str
) -> None:
    folder = _project(tmp_path / "p", module)
    result = run_cli("scheduler", cwd=folder)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_pipelines_module_is_refused_by_every_command(run_cli: RunCli, tmp_path: Path) -> None:
    folder = _project(tmp_path / "p", "import fti\n\n@fti.pipeline(triggers=['commits:raw'])\ndef f(ctx):\n    pass\n")
    result = run_cli("pipelines", "list", cwd=folder)
    assert result.returncode == 2, result.stderr
    # the message prints as written: '[/DETAIL]' is text, not markup
    assert "expected KIND:SUBJECT[/DETAIL]" in result.stderr


def test_bad_params_and_names(run_cli: RunCli, tmp_path: Path) -> None:
    folder = _project(tmp_path / "p", GOOD)
    result = run_cli("pipelines", "run", "hello", "--param", "who", cwd=folder)
    assert result.returncode == 2 and "--param 'who' is not KEY=VALUE" in result.stderr
    result = run_cli("pipelines", "run", "nope", cwd=folder)
    assert result.returncode == 2 and "No pipeline 'nope' (the project's pipelines: broken, hello)" in result.stderr
    result = run_cli("pipelines", "logs", "0" * 32, cwd=folder)
    assert result.returncode == 2 and "No pipeline run '" in result.stderr
    result = run_cli("scheduler", "--poll", "0", cwd=folder)
    assert result.returncode == 2 and "--poll must be positive" in result.stderr
