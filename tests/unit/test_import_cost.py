"""Start-up stays light: ``import fti``, ``fti --help`` and a project opened for the catalog import none of the
heavy libraries (each is imported by the call that needs it), and a project builds a service on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fti

#: libraries that cost from tens of milliseconds to seconds to import, none needed to start
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "deltalake",
    "sqlalchemy",
    "sklearn",
    "scipy",
    "optuna",
    "matplotlib",
    "fastapi",
    "jinja2",
    "torch",
    "transformers",
    "ray",
)
_REPORT = "print('heavy:' + ','.join(name for name in {heavy!r} if name in sys.modules), file=sys.stderr)"


def _heavy_imported(code: str, heavy: tuple[str, ...] = HEAVY) -> str:
    """The heavy modules a fresh interpreter holds after ``code``, as printed on its last stderr line."""
    program = f"import sys\n{code}\n{_REPORT.format(heavy=heavy)}"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    return result.stderr.strip().splitlines()[-1]


def test_import_fti_imports_no_heavy_library() -> None:
    assert _heavy_imported("import fti") == "heavy:"


def test_fti_help_imports_no_heavy_library() -> None:
    code = (
        "from fti.cli.main import main\n"
        "sys.argv = ['fti', '--help']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
    )
    assert _heavy_imported(code) == "heavy:"


def test_the_help_of_every_command_group_imports_no_heavy_library() -> None:
    code = (
        "from fti.cli.main import command\n"
        "root = command()\n"
        "for name in root.commands:\n"
        "    try:\n        root([name, '--help'], prog_name='fti')\n    except SystemExit:\n        pass\n"
    )
    assert _heavy_imported(code) == "heavy:"


def test_opening_a_project_for_its_catalog_imports_no_offline_or_ml_library(project_dir: Path) -> None:
    code = (
        "import fti\n"
        f"with fti.connect({str(project_dir)!r}) as project:\n"
        "    project.object_counts()\n"
        "    project.models()\n"
    )
    # the registry lists models from the catalog: no DuckDB, the feature store's pyarrow.dataset or the ML libraries
    data = ("pyarrow.dataset", "duckdb", "deltalake", "sklearn", "scipy", "optuna", "jinja2", "torch", "ray")
    assert _heavy_imported(code, data) == "heavy:"


def test_public_names_resolve_on_first_use() -> None:
    from fti.project import Project, connect

    assert fti.connect is connect
    assert fti.Project is Project
    assert "connect" in dir(fti)
    with pytest.raises(AttributeError, match="module 'fti' has no attribute 'nope'"):
        _ = fti.nope  # type: ignore[attr-defined]


def test_a_subpackage_is_an_attribute_of_fti_without_its_own_import() -> None:
    code = "import fti\nrule = fti.monitoring.FeatureDriftRule('x', threshold=0.1)\nprint(type(rule).__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "fti.monitoring.alerts"


def test_a_service_is_built_once_on_first_use_and_shared(project_dir: Path) -> None:
    with fti.connect(project_dir) as project:
        assert "monitoring" not in vars(project)
        monitoring = project.monitoring
        assert monitoring is project.monitoring
        # the services it was built over are the project's own
        assert project.registry is project.monitoring._registry
        assert {"monitoring", "registry", "features", "inference_log"} <= set(vars(project))
        assert "tracking" not in vars(project)  # nothing it uses built it
