"""What a model version needs besides its weights: its own code (``code_paths``) and its pip requirements.

At log time the files and folders named by ``code_paths`` are copied into the version's artifacts under
``code/``, and the requirements (the flavor's framework pinned to the installed minor version, plus the
caller's ``pip_requirements``) are written to ``requirements.txt`` beside the model files. At load time,
before the model is unpickled, the requirements are checked against the installed distributions
(:class:`~fti.errors.RequirementError` names each missing or mismatched one), then ``code/`` is copied to a
folder named after the hash of its content and put first on ``sys.path``, so the model's own modules
import in any process and working directory that loads it (``fti serve``, batch predictions, another
machine).

Python imports a module once per process: two model versions that package different code under the same
module name cannot both be loaded in one process (the first one wins). Give each model's package its
own name, or serve such versions from different processes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from fti.errors import NotFoundError, RequirementError, ValidationError

__all__ = [
    "CODE_FOLDER",
    "REQUIREMENTS_FILE",
    "check_requirements",
    "install_code",
    "package_code",
    "read_requirements",
    "write_requirements",
]

CODE_FOLDER = "code"
REQUIREMENTS_FILE = "requirements.txt"
#: flavor -> the distribution its models need at load time
_FRAMEWORKS = {"sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "torch"}
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
_INSTALL_LOCK = threading.Lock()


def package_code(code_paths: Sequence[str | Path], folder: Path, *, model: str) -> list[str]:
    """Copy each file or folder of ``code_paths`` into ``folder/code/``; the names it now holds.

    Raises:
        ValidationError: a path does not exist, or two paths have the same name.
    """
    targets: dict[str, Path] = {}
    for index, given in enumerate(code_paths):
        path = Path(given)
        if not path.exists():
            raise ValidationError(
                f"code_paths[{index}] of model '{model}' is '{given}', which does not exist: pass the folder of "
                "the model's package (or its module file), relative to the working directory or absolute."
            )
        name = path.resolve().name
        if name in targets:
            raise ValidationError(
                f"code_paths of model '{model}' name two paths called '{name}' ({targets[name]} and {path}): "
                "each is importable by its name, so the names must differ."
            )
        targets[name] = path
    destination = folder / CODE_FOLDER
    for name, path in targets.items():
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=_SKIPPED)
        else:
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / name)
    return sorted(targets)


def write_requirements(folder: Path, flavor: str, pip_requirements: Sequence[str], *, model: str) -> list[str]:
    """Write ``requirements.txt`` into ``folder``: the flavor's framework, then ``pip_requirements``.

    The framework is pinned to the installed major and minor version (``scikit-learn==1.5.*``): pickles are
    not promised to load across minor versions. A requirement the caller names replaces that default.

    Raises:
        ValidationError: an entry of ``pip_requirements`` is not a valid requirement (PEP 508).
    """
    given: list[Requirement] = []
    for index, text in enumerate(pip_requirements):
        try:
            given.append(Requirement(str(text)))
        except InvalidRequirement as exc:
            raise ValidationError(
                f"pip_requirements[{index}] of model '{model}' is {text!r}, not a valid requirement ({exc}): "
                "write it as pip does, e.g. 'scikit-learn==1.5.*' or 'rapidfuzz>=3'."
            ) from exc
    names = {canonicalize_name(requirement.name) for requirement in given}
    lines = [str(requirement) for requirement in given]
    framework = _FRAMEWORKS.get(flavor)
    if framework is not None and canonicalize_name(framework) not in names:
        pinned = _minor_pin(framework)
        if pinned is not None:
            lines.insert(0, pinned)
    if lines:
        (folder / REQUIREMENTS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def read_requirements(folder: Path) -> list[str]:
    """The requirements recorded in ``folder`` (none for versions logged without them)."""
    path = folder / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_requirements(folder: Path, *, model: str) -> None:
    """Check the requirements recorded in ``folder`` against the installed distributions.

    Raises:
        RequirementError: naming every requirement that is not installed or whose installed version does
            not match, and how to install it.
    """
    problems: list[str] = []
    for line in read_requirements(folder):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"'{requirement}' (not installed)")
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"'{requirement}' ({requirement.name} {installed} is installed)")
    if problems:
        wanted = " ".join(f"'{line}'" for line in read_requirements(folder))
        raise RequirementError(
            f"{model} needs {', '.join(problems)}: install its requirements (pip install {wanted}) where it is "
            "loaded, or log a version trained with the packages installed here."
        )


def install_code(folder: Path) -> Path | None:
    """Put the version's packaged code (``folder/code``) first on ``sys.path``; the folder used, if any.

    The code is copied to a folder named after the hash of its content (in the system's temporary
    folder), so loading the same code again, in any process, reuses it.
    """
    code = folder / CODE_FOLDER
    if not code.is_dir():
        return None
    files = sorted(path for path in code.rglob("*") if path.is_file())
    if not files:
        raise NotFoundError(f"The packaged code folder {code} is empty: log the model again with its code_paths.")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(code).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    target = Path(tempfile.gettempdir()) / "fti-model-code" / digest.hexdigest()[:32]
    with _INSTALL_LOCK:
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
            shutil.copytree(code, scratch, dirs_exist_ok=True)
            try:
                scratch.replace(target)
            except OSError:  # another process installed the same code first: use theirs
                shutil.rmtree(scratch, ignore_errors=True)
        if str(target) not in sys.path:
            sys.path.insert(0, str(target))
            importlib.invalidate_caches()
    return target


def _minor_pin(distribution: str) -> str | None:
    try:
        version = Version(importlib.metadata.version(distribution))
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return None
    return f"{distribution}=={version.major}.{version.minor}.*"
