"""``fti tokens create --role --expires``, ``fti tokens list`` and ``fti audit``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import fti
from fti.cli.main import app
from fti.errors import ValidationError

pytestmark = pytest.mark.integration

runner = CliRunner()


def test_tokens_are_created_with_a_role_and_an_expiry_listed_without_secrets_and_audited(tmp_path: Path) -> None:
    fti.connect(tmp_path).close()
    project = ["--project", str(tmp_path)]
    created = runner.invoke(app, ["tokens", "create", "nightly", "--role", "write", "--expires", "30d", *project])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("fti_")
    assert "role write, expires " in created.stderr
    assert runner.invoke(app, ["tokens", "create", "scorer", *project]).exit_code == 0
    bad_role = runner.invoke(app, ["tokens", "create", "x", "--role", "owner", *project])
    # run in-process, the CLI's errors surface as exceptions (`fti` turns them into one line and exit 2)
    assert isinstance(bad_role.exception, ValidationError) and "Unknown role 'owner'" in str(bad_role.exception)
    bad_expiry = runner.invoke(app, ["tokens", "create", "x", "--expires", "tomorrow", *project])
    assert isinstance(bad_expiry.exception, ValidationError) and "'tomorrow' is neither" in str(bad_expiry.exception)
    assert runner.invoke(app, ["tokens", "revoke", "scorer", *project]).exit_code == 0

    listed = runner.invoke(app, ["tokens", "list", *project], terminal_width=200)
    assert listed.exit_code == 0 and secret not in listed.output
    rows = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if line.count("│") >= 6}
    assert "write" in rows["nightly"] and "active" in rows["nightly"]
    assert "predict" in rows["scorer"] and "revoked" in rows["scorer"] and "never" in rows["scorer"]

    audit = runner.invoke(app, ["audit", *project], terminal_width=200)
    assert audit.exit_code == 0 and secret not in audit.output
    # tables wrap cells on a narrow terminal: check what cannot wrap
    assert audit.output.count("token.create") == 2 and audit.output.count("token.revoke") == 1
    assert audit.output.index("token.revoke") < audit.output.index("token.create")  # newest first
    only = runner.invoke(app, ["audit", "--action", "token.revoke", *project], terminal_width=200)
    assert "scorer" in only.output and "nightly" not in only.output
    none = runner.invoke(app, ["audit", "--actor", "nobody", *project])
    assert none.exit_code == 0 and "No audit entries match." in none.output
    bad_since = runner.invoke(app, ["audit", "--since", "yesterday", *project])
    assert isinstance(bad_since.exception, ValidationError) and "--since 'yesterday'" in str(bad_since.exception)
    assert len(fti.connect(tmp_path).tokens()) == 2  # the refused ones wrote nothing
