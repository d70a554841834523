"""``fti demo llm``: the LLM workflow on docstring → code pairs, in a project left for you to explore."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from fti.cli.console import out
from fti.cli.demo import RichReporter

__all__ = ["llm"]


def llm(
    keep: Annotated[
        Path, typer.Option("--keep", help="Folder for the demo project (replaced if it holds a demo).")
    ] = Path("fti-llm-demo"),
    fast: Annotated[
        bool, typer.Option("--fast", help="The tests' tiny model and a short fine-tune: about a minute, for CI.")
    ] = False,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for torch (more only help on an idle machine).")] = 1,
) -> None:
    """Fine-tune a small LLM with LoRA, evaluate it (perplexity, BLEU, ROUGE), register, deploy and query it."""
    import torch

    from fti.demo.llm_loop import LlmDemoSettings, run_llm_demo

    torch.set_num_threads(threads)
    settings = LlmDemoSettings.fast() if fast else LlmDemoSettings()
    started = time.perf_counter()
    reporter = RichReporter()
    timing = run_llm_demo(keep, settings, reporter)
    reporter.finish()
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timing.seconds.items())
    out.print(f"\nDone in {time.perf_counter() - started:.1f} s ({stages}).")
    out.print(
        f"The demo project is in [bold]{keep}[/]. Explore it:\n"
        f"  fti ui -p {keep}            # the runs' loss curves, the models and their lineage\n"
        f"  fti serve -p {keep}         # /v1/completions, /v1/chat/completions, /v1/deployments/code_writer/generate\n"
        f"  fti models list -p {keep}   # tiny-gpt2 and its fine-tuned adapter code-writer"
    )
