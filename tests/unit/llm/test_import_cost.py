"""torch, transformers, peft and the text metrics load only when an LLM feature is used (~10 s of imports)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "sacrebleu", "rouge_score", "tokenizers")


def test_importing_fti_its_cli_and_its_servers_imports_no_llm_library() -> None:
    code = (
        "import sys, fti, fti.llm, fti.cli.main, fti.inference.server, fti.registry, fti.training.evaluation\n"
        f"print('heavy:' + ','.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "heavy:"


def test_a_cli_command_without_llm_work_imports_no_llm_library() -> None:
    code = (
        "import sys\nfrom fti.cli.main import app\n"
        "try:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
        f"print('heavy:' + ','.join(name for name in {HEAVY!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "heavy:"
