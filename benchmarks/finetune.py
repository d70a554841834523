"""LLM throughput: a LoRA training step against a plain transformers loop; generation through the server.

Training: ``fti.llm.finetune`` (LoRA, AdamW, gradient clipping, per-step tracking and a progress bar)
against the loop one writes by hand with transformers and peft: the same model, the same LoRA settings,
the same batches (padded rows of the docstring → code task), the same optimizer. Tokens/s counts the
tokens (not padding) through forward and backward per second of training steps; the target is 0.9x of
the plain loop or better.

Generation: tokens/s and time to first token of requests streamed through the model server (SSE from
``/v1/deployments/{name}/generate``, uvicorn on loopback), one at a time and 8 at once (batched), against
``model.generate`` called directly, one request at a time. Every request samples up to the same number
of new tokens; tokens/s counts the tokens each one really generated.

The model is the demo's tiny GPT-2 (pretrained here first, about a minute; ``--quick``: the tests' one).
On a machine with CUDA the same script runs there and says so.

    python benchmarks/finetune.py             # the demo's model, 40 training steps, 16 requests
    python benchmarks/finetune.py --quick     # the tests' model, 10 steps, 4 requests
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import fti
import fti.llm
from fti.cli.serve import build_app
from fti.demo.code_pairs import code_pairs, stdlib_files
from fti.demo.tiny_model import HELD_OUT_SPLIT, TinyRecipe, build_tiny_model
from fti.llm.lora import apply_lora
from fti.llm.runtime import pick_device
from fti.llm.tracked import TEXT_SIGNATURE
from fti.testing.serving import running_app

PROMPT = "# Task: Return the number of items in the list.\n"


def _plain_loop(model_folder: Path, split: Any, config: fti.llm.FinetuneConfig, batches: list[np.ndarray]) -> float:
    """The reference: transformers + peft, the loop one writes by hand; returns tokens/s."""
    device = pick_device(config.device)
    generator = fti.llm.load_pretrained(model_folder)
    torch.manual_seed(config.seed)
    model = apply_lora(generator.model, config.lora).to(device.name)
    model.train()
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.resolved_learning_rate)
    tokens, seconds = 0, 0.0
    for rows in batches:
        started = time.perf_counter()
        ids, mask, labels = (torch.from_numpy(part).to(device.name) for part in split.batch(rows))
        with device.autocast():
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - started
        tokens += int(mask.sum())
    return tokens / seconds


def _fti_step(model_folder: Path, tokenized: Any, config: fti.llm.FinetuneConfig) -> float:
    base = fti.llm.load_pretrained(model_folder)
    return fti.llm.finetune(base, tokenized, config).tokens_per_second


def _same_batches(split: Any, config: fti.llm.FinetuneConfig) -> list[np.ndarray]:
    """The batches fti.llm.finetune draws: one seeded permutation per epoch, cut into batch_size rows."""
    generator = torch.Generator().manual_seed(config.seed)
    batches: list[np.ndarray] = []
    while len(batches) < (config.max_steps or 0):
        order = torch.randperm(len(split), generator=generator).numpy()
        batches += [order[start : start + config.batch_size] for start in range(0, len(order), config.batch_size)]
    return batches[: config.max_steps]


def _direct(generator: fti.llm.TextGenerator, requests: int, new_tokens: int) -> tuple[float, float]:
    """tokens/s and median time to first token of ``model.generate``, one request at a time."""
    model, tokenizer = generator.model, generator.tokenizer
    ids = torch.tensor([generator.encode(PROMPT)], device=model.device)
    options = {"attention_mask": torch.ones_like(ids), "do_sample": True, "temperature": 0.8, "top_k": 50,
               "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    firsts, tokens, seconds = [], 0, 0.0
    for seed in range(requests):
        torch.manual_seed(seed)
        started = time.perf_counter()
        model.generate(ids, max_new_tokens=1, **options)
        firsts.append(time.perf_counter() - started)
        started = time.perf_counter()
        output = model.generate(ids, max_new_tokens=new_tokens, **options)
        seconds += time.perf_counter() - started
        tokens += output.shape[1] - ids.shape[1]
    return tokens / seconds, float(np.median(firsts))


async def _stream(http: httpx.AsyncClient, new_tokens: int, seed: int) -> tuple[int, float, float]:
    """One streamed request: (tokens, seconds, time to first token)."""
    body = {"prompt": PROMPT, "max_new_tokens": new_tokens, "temperature": 0.8, "top_k": 50, "seed": seed,
            "stream": True}  # fmt: skip
    started = time.perf_counter()
    first = math.nan
    tokens = 0
    async with http.stream("POST", "/v1/deployments/bench/generate", json=body) as answer:
        async for line in answer.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line.removeprefix("data: "))
            if "text" in event and math.isnan(first):
                first = time.perf_counter() - started
            if "usage" in event:
                tokens = event["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - started, first


async def _through_server(url: str, requests: int, new_tokens: int, concurrent: int) -> tuple[float, float]:
    """tokens/s (all tokens over the wall time) and median time to first token, ``concurrent`` at a time."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        await _stream(http, 4, 0)  # the first request loads nothing, but warms the route and the batcher
        results: list[tuple[int, float, float]] = []
        started = time.perf_counter()
        for offset in range(0, requests, concurrent):
            wave = range(offset, min(offset + concurrent, requests))
            results += await asyncio.gather(*(_stream(http, new_tokens, seed) for seed in wave))
        wall = time.perf_counter() - started
    return sum(item[0] for item in results) / wall, float(np.nanmedian([item[2] for item in results]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the tests' tiny model, fewer steps and requests")
    parser.add_argument("--steps", type=int, help="training steps per measurement (default: 40, quick: 10)")
    parser.add_argument("--requests", type=int, help="generation requests per measurement (default: 16, quick: 4)")
    parser.add_argument("--new-tokens", type=int, default=64, help="new tokens per request (default: 64)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = TinyRecipe() if args.quick else TinyRecipe.demo()
    steps = args.steps or (10 if args.quick else 40)
    requests = args.requests or (4 if args.quick else 16)
    device = pick_device()
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="fti-bench-llm-") as scratch:
        root = Path(scratch)
        pairs = code_pairs(stdlib_files(recipe.files), max_code_chars=recipe.max_code_chars)
        model_folder = build_tiny_model(root / "tiny-gpt2", recipe, pairs=pairs)
        data = fti.llm.TextDataset(pairs, split=HELD_OUT_SPLIT, split_by="file")
        config = fti.llm.FinetuneConfig(
            method="lora", learning_rate=2e-3, max_steps=steps, batch_size=8, on_long="truncate", progress=False
        )
        tokenized = fti.llm.prepare(fti.llm.load_pretrained(model_folder), data, config)
        batches = _same_batches(tokenized["train"], config)
        plain, ours = 0.0, 0.0
        for _ in range(2):  # alternate the two and keep each one's best: the machine may be shared
            plain = max(plain, _plain_loop(model_folder, tokenized["train"], config, batches))
            ours = max(ours, _fti_step(model_folder, tokenized, config))
        generator = fti.llm.load_pretrained(model_folder)
        direct_speed, direct_first = _direct(generator, requests, args.new_tokens)
        with fti.connect(root / "project") as project:
            with project.start_run("bench") as run:
                run.log_model(generator, "bench", signature=TEXT_SIGNATURE)
            project.deploy("bench", "bench:1")
            with running_app(build_app(project)) as url:
                alone = asyncio.run(_through_server(url, requests, args.new_tokens, 1))
                batched = asyncio.run(_through_server(url, requests, args.new_tokens, 8))
    table = Table(title=f"LLM throughput on {device.name} ({recipe.n_layer} layers, {recipe.n_embd} wide, "
                  f"{torch.get_num_threads()} thread(s); {steps} steps of 8 rows, {requests} requests of "
                  f"{args.new_tokens} tokens)")  # fmt: skip
    for column in ("measure", "fti", "reference", "fti / reference"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("LoRA training step, tokens/s (vs plain transformers + peft loop)", f"{ours:,.0f}",
                  f"{plain:,.0f}", f"{ours / plain:.2f}x (target >= 0.90x)")  # fmt: skip
    table.add_row("generation tokens/s, one request at a time (vs model.generate)", f"{alone[0]:,.0f}",
                  f"{direct_speed:,.0f}", f"{alone[0] / direct_speed:.2f}x")  # fmt: skip
    table.add_row("generation tokens/s, 8 concurrent requests (batched; vs model.generate one at a time)",
                  f"{batched[0]:,.0f}", f"{direct_speed:,.0f}", f"{batched[0] / direct_speed:.2f}x")  # fmt: skip
    table.add_row("time to first token, ms, one at a time (vs model.generate of 1 token)", f"{alone[1] * 1000:,.1f}",
                  f"{direct_first * 1000:,.1f}", f"{alone[1] / direct_first:.2f}x")  # fmt: skip
    table.add_row("time to first token, ms, 8 concurrent", f"{batched[1] * 1000:,.1f}", f"{direct_first * 1000:,.1f}",
                  f"{batched[1] / direct_first:.2f}x")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
