"""Evaluation of a text generation model on held-out rows: perplexity, BLEU, ROUGE, exact match, samples.

Perplexity scores the reference responses under the model (it needs no generation, so it is computed
on every held-out row). BLEU (sacrebleu's corpus BLEU, 0-100), ROUGE-1/2/L F-measures (rouge-score,
0-1) and exact match (0-1, after stripping whitespace) compare generated answers with the references on
the first ``samples`` held-out rows; those rows, the references and the answers are also logged as a
table artifact (``samples.json``: ``{"columns": [...], "data": [[...], ...]}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import ValidationError
from fti.llm.generation import GenerationParams
from fti.llm.generator import TextGenerator
from fti.llm.ports import NullTextRunLogger, TextRunLogger
from fti.llm.text_data import TextDataset
from fti.llm.tokenized import RowChecks, TokenizedSplit, TokenizedText

__all__ = ["TEXT_TASK", "TextEvaluation", "as_text_evaluation_input", "evaluate_text", "text_metrics"]

#: the task name ``fti.evaluate`` knows text generation by
TEXT_TASK = "text-generation"
_ROUGE = ("rouge1", "rouge2", "rougeL")


@dataclass(frozen=True, slots=True)
class TextEvaluation:
    """Metrics and the generated samples of one evaluation; metric keys carry the prefix given."""

    metrics: dict[str, float]
    #: columns ``prompt``, ``reference``, ``generated``
    samples: pd.DataFrame


def text_metrics(generated: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU, ROUGE-1/2/L (F-measure, mean over rows) and exact match of ``generated`` against ``references``."""
    if len(generated) != len(references):
        raise ValidationError(f"Got {len(generated)} generated texts for {len(references)} references.")
    if not references:
        return {}
    from rouge_score import rouge_scorer
    from sacrebleu.metrics.bleu import BLEU

    bleu = BLEU(effective_order=True).corpus_score(list(generated), [list(references)]).score
    scorer = rouge_scorer.RougeScorer(list(_ROUGE), use_stemmer=False)
    # rouge-score compares one pair per call: its API has no batch form
    scores = [scorer.score(reference, text) for reference, text in zip(references, generated, strict=True)]
    found = {"bleu": float(bleu)}
    for name in _ROUGE:
        found[name] = float(np.mean([score[name].fmeasure for score in scores]))
    matches = np.array(
        [text.strip() == reference.strip() for text, reference in zip(generated, references, strict=True)]
    )
    found["exact_match"] = float(matches.mean())
    return found


def _generate(generator: TextGenerator, prompts: list[str], params: GenerationParams) -> list[str]:
    """Answers for ``prompts``; each gets as many new tokens as fit after it (up to ``max_new_tokens``)."""
    requests = []
    for prompt in prompts:
        room = generator.context_length - len(generator.encode(prompt))
        chosen = params.replace(max_new_tokens=max(1, min(params.max_new_tokens, room - 1)))
        requests.append(generator.request(prompt, chosen) if room > 1 else None)
    generator.run([request for request in requests if request is not None])
    return [request.text if request is not None else "" for request in requests]


def evaluate_text(
    generator: TextGenerator,
    data: TextDataset,
    *,
    split: str | None = None,
    tokenized: TokenizedText | None = None,
    checks: RowChecks | None = None,
    samples: int = 16,
    params: GenerationParams | None = None,
    logger: TextRunLogger | None = None,
    prefix: str = "",
) -> TextEvaluation:
    """Evaluate ``generator`` on the held-out split of ``data`` and log metrics and samples to ``logger``.

    Args:
        generator: the model to evaluate.
        data: the text data; its ``test`` split (else ``validation``) is read unless ``split`` says otherwise.
        split: the split to evaluate on.
        tokenized: the data already tokenized (by fine-tuning), to score perplexity on the same tokens.
        checks: how to tokenize when ``tokenized`` is None (default: truncate to the model's context).
        samples: held-out rows to generate answers for (0: perplexity only).
        params: generation parameters of the samples (default: greedy, 64 new tokens).
        logger: the run to log to.
        prefix: put before every metric and the samples file name, e.g. ``"base_"``.
    """
    logger = logger or NullTextRunLogger()
    chosen = split or data.held_out_split()
    if chosen is None:
        raise ValidationError(
            "The text data has no test or validation split to evaluate on: build it with "
            "split={'train': 0.9, 'test': 0.1}."
        )
    scored: TokenizedSplit
    if tokenized is not None and chosen in tokenized:
        scored = tokenized[chosen]
    else:
        rules = checks or RowChecks(max_length=generator.context_length, on_long="truncate", on_empty="drop")
        scored = data.tokenize(generator.tokenizer, rules)[chosen]
    metrics = {"perplexity": generator.perplexity(scored)}
    rows = data.rows(chosen, generator.tokenizer).head(samples)
    prompts = rows["prompt"].astype(str).tolist()
    references = rows["response"].astype(str).tolist()
    generated = _generate(generator, prompts, params or GenerationParams(temperature=0)) if prompts else []
    metrics |= text_metrics(generated, references)
    table = pd.DataFrame({"prompt": prompts, "reference": references, "generated": generated})
    named = {f"{prefix}{key}": value for key, value in metrics.items()}
    logger.log_metrics(named)
    if samples:
        logger.log_dict({"columns": list(table.columns), "data": table.to_numpy().tolist()}, f"{prefix}samples.json")
    return TextEvaluation(named, table)


def as_text_evaluation_input(model: Any, data: Any) -> tuple[TextGenerator, TextDataset]:
    """Check what ``fti.evaluate`` was given for a text task."""
    if not isinstance(model, TextGenerator):
        raise ValidationError(
            f"Text generation is evaluated on a TextGenerator (a loaded transformers model version or "
            f"fti.llm.load_pretrained(...)), got {type(model).__name__}."
        )
    return model, data if isinstance(data, TextDataset) else TextDataset(data)
