"""A tiny GPT-2 built and pretrained here, on the standard library's code, in seconds.

It stands in for a pretrained base model where nothing can be downloaded: a byte-level BPE tokenizer
trained on the pretraining text, a GPT-2 of a few hundred thousand parameters, and a short pretraining
run. The files that :func:`held_out_files` holds out (the ``test`` split of the docstring → code task)
are left out of pretraining, so evaluating on them measures what fine-tuning learned. The model is
saved with ``save_pretrained`` and read back like any local model folder; a folder that already holds
a model of the same recipe is reused (a file lock makes concurrent builders wait for the first one).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from fti.demo.code_pairs import code_pairs, pretraining_text, stdlib_files
from fti.llm.runtime import torch_module, transformers_module
from fti.llm.text_data import assign_text_splits

__all__ = ["CHAT_TEMPLATE", "EOS", "HELD_OUT_SPLIT", "TinyRecipe", "build_tiny_model", "held_out_files"]

EOS = "<|endoftext|>"
#: the split of the docstring → code task that the demo and the tests evaluate on (left out of pretraining)
HELD_OUT_SPLIT = {"train": 0.85, "test": 0.15}
#: a plain chat template for the tiny model (roles as text markers, the model's EOS after each turn)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
_RECIPE_FILE = "fti_recipe.json"
_CHUNK_CHARS = 4096


@dataclass(frozen=True, slots=True)
class TinyRecipe:
    """Sizes of the corpus, tokenizer, network and pretraining."""

    files: int = 80
    max_code_chars: int = 250
    #: the pretraining text is cut to this many characters (tokenizer training and encoding scale with it)
    pretrain_chars: int = 300_000
    vocab_size: int = 1024
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 2
    n_positions: int = 128
    steps: int = 60
    batch_size: int = 8
    block: int = 64
    learning_rate: float = 2e-3
    seed: int = 0

    @classmethod
    def demo(cls) -> TinyRecipe:
        """The demo's size: more files, a larger vocabulary and network, longer pretraining (about a minute)."""
        return cls(
            files=300, max_code_chars=300, pretrain_chars=1_500_000, vocab_size=2048, n_embd=128, n_head=4,
            n_positions=256, steps=300, block=128, learning_rate=3e-3,
        )  # fmt: skip


def held_out_files(pairs: pd.DataFrame) -> frozenset[str]:
    """The files whose pairs fall in the held-out split of :data:`HELD_OUT_SPLIT`."""
    names = pd.Series(pairs["file"].unique())
    return frozenset(names[assign_text_splits(names, HELD_OUT_SPLIT) == "test"].tolist())


def build_tiny_model(
    folder: Path | str, recipe: TinyRecipe | None = None, *, pairs: pd.DataFrame | None = None
) -> Path:
    """Build, pretrain and save a tiny GPT-2 in ``folder`` (reused when it holds one of the same recipe).

    Args:
        folder: where the model and tokenizer are saved (``from_pretrained`` reads it).
        recipe: the sizes (default: the tests' size, a few seconds).
        pairs: the docstring → code pairs of ``recipe.files`` files, when already extracted.

    Returns:
        The folder.
    """
    recipe = recipe or TinyRecipe()
    target = Path(folder)
    wanted = dataclasses.asdict(recipe)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        stamp = target / _RECIPE_FILE
        if stamp.exists() and json.loads(stamp.read_text()).get("recipe") == wanted:
            return target
        started = time.perf_counter()
        files = stdlib_files(recipe.files)
        if pairs is None:
            pairs = code_pairs(files, max_code_chars=recipe.max_code_chars)
        text = pretraining_text(files, skip=held_out_files(pairs))[: recipe.pretrain_chars]
        with tempfile.TemporaryDirectory(prefix="fti-tiny-", dir=target.parent) as scratch:
            final_loss = _pretrain(Path(scratch), text, recipe)
            summary = {"recipe": wanted, "final_loss": final_loss, "seconds": time.perf_counter() - started}
            (Path(scratch) / _RECIPE_FILE).write_text(json.dumps(summary, indent=2))
            if target.exists():
                shutil.rmtree(target)
            shutil.move(scratch, target)
            Path(scratch).mkdir()  # the context manager removes its folder on exit
    return target


def _tokenizer(text: str, recipe: TinyRecipe) -> Any:
    from tokenizers import ByteLevelBPETokenizer

    transformers = transformers_module()
    chunks = [text[start : start + _CHUNK_CHARS] for start in range(0, len(text), _CHUNK_CHARS)]
    trained = ByteLevelBPETokenizer()
    trained.train_from_iterator(
        chunks, vocab_size=recipe.vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=trained, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = recipe.n_positions
    return tokenizer


def _pretrain(folder: Path, text: str, recipe: TinyRecipe) -> float:
    """Train the tokenizer and the network on ``text``; save both in ``folder``; return the last loss."""
    torch = torch_module()
    transformers = transformers_module()
    tokenizer = _tokenizer(text, recipe)
    chunks = [text[start : start + _CHUNK_CHARS] for start in range(0, len(text), _CHUNK_CHARS)]
    encoded = tokenizer.backend_tokenizer.encode_batch(chunks)
    ids = np.concatenate([np.asarray(item.ids, dtype=np.int64) for item in encoded])
    blocks = torch.from_numpy(ids[: len(ids) // recipe.block * recipe.block].reshape(-1, recipe.block))
    eos = tokenizer.eos_token_id
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=recipe.n_positions, n_embd=recipe.n_embd, n_layer=recipe.n_layer,
        n_head=recipe.n_head, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
    )  # fmt: skip
    torch.manual_seed(recipe.seed)
    model = transformers.GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    generator = torch.Generator().manual_seed(recipe.seed)
    model.train()
    loss_value = float("nan")
    for _ in range(recipe.steps):
        batch = blocks[torch.randint(len(blocks), (recipe.batch_size,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())
    model.eval()
    model.generation_config.pad_token_id = eos
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return loss_value
