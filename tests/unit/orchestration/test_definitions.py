"""Pipelines are checked where they are defined: every bad argument, module and name is refused with its file
and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fti
from fti.core.pipelines import Trigger
from fti.errors import ValidationError
from fti.orchestration.definitions import define_pipeline
from fti.orchestration.loading import load_pipelines, resolve_step

HERE = Path(__file__)


def step(ctx: object) -> None:
    """A step importable by another process."""


def other_step(ctx: object) -> None:
    """Another step."""


def _line_of(text: str) -> int:
    return next(number for number, line in enumerate(HERE.read_text().splitlines(), 1) if text in line)


def test_a_cron_expression_that_does_not_parse_names_the_file_and_line() -> None:
    with pytest.raises(ValidationError) as raised:
        fti.pipeline(schedule="61 * * * *")  # bad cron
    message = str(raised.value)
    assert message.startswith(f"{HERE}:{_line_of('# bad cron')}: ")
    assert "Cron expression '61 * * * *' does not parse" in message


def test_a_cron_expression_with_the_wrong_number_of_fields() -> None:
    with pytest.raises(ValidationError, match=r"expected 5 fields .* or 6 \(with seconds last\)"):
        fti.pipeline(schedule="* * *")


def test_an_unknown_time_zone() -> None:
    with pytest.raises(ValidationError, match=r"Time zone 'Mars/Olympus' is unknown: use an IANA name"):
        fti.pipeline(schedule="0 * * * *", timezone="Mars/Olympus")


def test_an_unknown_catch_up_policy() -> None:
    with pytest.raises(ValidationError, match="Catch-up policy 'some' is unknown: use one of none, latest, all"):
        fti.pipeline(schedule="0 * * * *", catchup="some")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("commits:raw", "Trigger 'commits:raw' does not parse: expected KIND:SUBJECT[/DETAIL]"),
        ("commit", "Trigger 'commit' does not parse"),
        ("alert:fraud/latency", "alert kind 'latency' is not one of drift, quality, performance"),
        ("alias:fraud", "needs the alias: 'alias:fraud/champion'"),
        ("pipeline_run:features/maybe", "pipeline run state 'maybe' is not one of succeeded, failed, finished"),
        ("commit:raw/7", "a commit trigger takes no '/7'"),
    ],
)
def test_a_trigger_that_does_not_parse(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as raised:
        fti.pipeline(triggers=[text])  # bad trigger
    assert str(raised.value).startswith(f"{HERE}:{_line_of('# bad trigger')}: ")


def test_bad_durations_retries_and_concurrency() -> None:
    with pytest.raises(ValidationError, match="timeout 'soon' is not a duration: write a number with a unit"):
        fti.pipeline(timeout="soon")
    with pytest.raises(ValidationError, match="retries must be a whole number of at least 0, got -1"):
        fti.pipeline(retries=-1)
    with pytest.raises(ValidationError, match="concurrency must be a whole number of at least 1, got 0"):
        fti.pipeline(concurrency=0)


def test_a_pipeline_triggered_by_its_own_runs_is_refused() -> None:
    with pytest.raises(ValidationError, match="would start the pipeline after each of its own runs"):
        define_pipeline(step, triggers=[fti.on_pipeline_run("step")])


def test_a_step_another_process_cannot_import_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cannot be imported by the scheduler's processes: define it with `def`"):
        define_pipeline(lambda ctx: None, name="inline")


def test_a_decorated_function_is_a_pipeline_and_still_callable() -> None:
    built = fti.pipeline(name="hourly", schedule="0 * * * *", triggers=["commit:raw", fti.on_alert("fraud")])(step)
    assert built.spec.steps == (f"{__name__}:step",)
    assert built.spec.triggers == (Trigger("commit", "raw"), Trigger("alert", "fraud"))
    assert built.spec.description == "A step importable by another process."
    assert resolve_step(built.spec.steps[0]) is step
    steps = define_pipeline([step, other_step], name="two_steps")
    assert steps.spec.steps == (f"{__name__}:step", f"{__name__}:other_step")


def test_a_module_that_does_not_import_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import fti\n\nx = 1\nraise RuntimeError('no database')\n")
    with pytest.raises(ValidationError) as raised:
        load_pipelines(["broken.py"], tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'broken.py'}:4: pipelines module")
    assert "does not import: RuntimeError: no database" in str(raised.value)
    (tmp_path / "syntax.py").write_text("def f(:\n")
    with pytest.raises(ValidationError, match=re.escape(f"{tmp_path / 'syntax.py'}:1: pipelines module")):
        load_pipelines(["syntax.py"], tmp_path)
    with pytest.raises(ValidationError, match="Pipelines module .*missing.py does not exist"):
        load_pipelines(["missing.py"], tmp_path)
    with pytest.raises(ValidationError, match="Pipelines module 'no_such_module_here' cannot be found"):
        load_pipelines(["no_such_module_here"], tmp_path)


def test_a_bad_schedule_in_a_module_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(
        "import fti\n\n\n@fti.pipeline(schedule='0 25 * * *')\ndef nightly(ctx):\n    pass\n"
    )
    with pytest.raises(ValidationError, match=re.escape(f"{tmp_path / 'jobs.py'}:4: a pipeline: Cron expression")):
        load_pipelines(["jobs.py"], tmp_path)


def test_a_name_used_twice_names_both_places(tmp_path: Path) -> None:
    body = "import fti\n\n\n@fti.pipeline(name='features')\ndef build(ctx):\n    pass\n"
    (tmp_path / "a.py").write_text(body)
    (tmp_path / "b.py").write_text("\n" + body)
    with pytest.raises(ValidationError) as raised:
        load_pipelines(["a.py", "b.py"], tmp_path)
    assert str(raised.value) == (
        f"{tmp_path / 'b.py'}:5: pipeline 'features' is already defined at {tmp_path / 'a.py'}:4: "
        "give one of them another name."
    )
    loaded = load_pipelines(["a.py"], tmp_path)
    assert list(loaded) == ["features"] and loaded["features"].spec.steps[0].startswith(f"{tmp_path / 'a.py'}:")
