"""Model cards (README.md) for published tiny-random checkpoints.

The card is rendered from data only (creation-report entry, the folder's
`config.json`, the model type's `.tinymodels.json`), never from the clock or the
environment, so the same build always yields byte-identical cards and an
unchanged model stays unchanged on the Hub. It never sees the Hub token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypedDict

from tinymodels import __version__
from tinymodels.config.discover import is_tokenizer_class
from tinymodels.run.report_types import ArchEntry, Entry

TAGS: Final[tuple[str, ...]] = ("tiny-random", "tinymodels", "testing")

# Architecture name suffix -> Hub pipeline tag. Only unambiguous suffixes: e.g.
# `ForConditionalGeneration` covers translation, ASR and image-text-to-text alike.
PIPELINE_TAGS: Final[dict[str, str]] = {
    "ForCausalLM": "text-generation",
    "LMHeadModel": "text-generation",
    "ForMaskedLM": "fill-mask",
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
    "ForQuestionAnswering": "question-answering",
    "ForTableQuestionAnswering": "table-question-answering",
    "ForDocumentQuestionAnswering": "document-question-answering",
    "ForVisualQuestionAnswering": "visual-question-answering",
    "ForImageClassification": "image-classification",
    "ForZeroShotImageClassification": "zero-shot-image-classification",
    "ForObjectDetection": "object-detection",
    "ForZeroShotObjectDetection": "zero-shot-object-detection",
    "ForSemanticSegmentation": "image-segmentation",
    "ForInstanceSegmentation": "image-segmentation",
    "ForUniversalSegmentation": "image-segmentation",
    "ForDepthEstimation": "depth-estimation",
    "ForKeypointDetection": "keypoint-detection",
    "ForMaskGeneration": "mask-generation",
    "ForVideoClassification": "video-classification",
    "ForAudioClassification": "audio-classification",
    "ForCTC": "automatic-speech-recognition",
    "ForSpeechSeq2Seq": "automatic-speech-recognition",
    "ForTextToSpeech": "text-to-speech",
    "ForTextToWaveform": "text-to-audio",
    "ForImageTextToText": "image-text-to-text",
}

# Composite models (folder `EncoderDecoderModel-bert-bert`) keyed by their class name.
COMPOSITE_PIPELINE_TAGS: Final[dict[str, str]] = {
    "EncoderDecoderModel": "text2text-generation",
    "VisionEncoderDecoderModel": "image-to-text",
    "SpeechEncoderDecoderModel": "automatic-speech-recognition",
}


def pipeline_tag_for(architecture: str) -> str | None:
    """Best-effort Hub pipeline tag for an architecture class name (None when unknown)."""
    base = architecture.split("-", 1)[0]
    if base in COMPOSITE_PIPELINE_TAGS:
        return COMPOSITE_PIPELINE_TAGS[base]
    # Longest suffix first: `ForZeroShotImageClassification` before `ForImageClassification`.
    for suffix in sorted(PIPELINE_TAGS, key=len, reverse=True):
        if base.endswith(suffix):
            return PIPELINE_TAGS[suffix]
    if base.endswith("Model") and not base.endswith("PreTrainedModel"):
        return "feature-extraction"
    return None


class CardFacts(TypedDict):
    """What a card states; None for a fact that is not known (its row is then left out)."""

    architecture: str  # the folder name: `BertModel`, or `EncoderDecoderModel-bert-bert`
    config_class: str | None
    model_type: str | None
    tool_version: str
    transformers_version: str | None
    config_source: str | None
    corpus: str | None  # the corpus identity of the type's fingerprint
    vocab_size: int | None
    seed: int | None
    params: int | None
    tokenizers: list[str]
    processors: list[str]
    validated: str | None  # the passed levels, e.g. "load, forward, pipeline (fill-mask)"
    chat_template: str | None
    tokenizer_source: str | None
    processor_source: str | None


def _find(meta: Mapping[str, Any], *keys: str) -> Any:
    """First non-empty value of `keys` at the top level of `meta` or one level down."""
    for key in keys:
        if meta.get(key) not in (None, ""):
            return meta[key]
    for value in meta.values():
        if isinstance(value, Mapping):
            for key in keys:
                if value.get(key) not in (None, ""):
                    return value[key]
    return None


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when it is missing or unreadable (the card is best-effort)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def card_facts(folder: Path, architecture: str, info: ArchEntry, entry: Entry,
               config_class: str | None = None) -> CardFacts:
    """Collect what the card states about how the model was made; missing facts are None."""
    config = _read_json(folder / "config.json")
    meta = _read_json(folder.parent / ".tinymodels.json")
    model_type = entry.get("model_type") or config.get("model_type") or _find(meta, "model_type")
    processors = sorted(entry.get("processor", {}) or {})
    vocab_size = entry.get("vocab_size")
    if vocab_size is None:
        vocab_size = config.get("vocab_size")
    # The stamp is {"fingerprint": {"tinymodels": v, "transformers": v, "seed": n, "corpus": ...}, ...}.
    config_source = entry.get("config_source") or _find(meta, "config_source")
    if not config_source and config_class:
        config_source = f"`{config_class}` defaults, shrunk by tinymodels"
        if _find(meta, "override"):
            config_source += " (with model-specific overrides)"
    transformers_version = config.get("transformers_version") or _find(meta, "transformers_version")
    if not transformers_version and isinstance(_find(meta, "transformers"), str):
        transformers_version = _find(meta, "transformers")
    return {
        "architecture": architecture,
        "config_class": config_class,
        "model_type": model_type,
        "tool_version": _find(meta, "tinymodels_version", "tool_version", "tinymodels") or __version__,
        "transformers_version": transformers_version,
        "config_source": config_source,
        "corpus": _find(meta, "corpus"),
        "vocab_size": vocab_size,
        "seed": _find(meta, "seed"),
        "params": info.get("params"),
        "tokenizers": [p for p in processors if is_tokenizer_class(p)],
        "processors": [p for p in processors if not is_tokenizer_class(p)],
        "validated": _passed_levels(info.get("levels")),
        "chat_template": entry.get("chat_template"),
        # Only with --tokenizer-source original: `original:REPO`, `blank` or `none`.
        "tokenizer_source": entry.get("tokenizer_source"),
        "processor_source": entry.get("processor_source"),
    }


def _passed_levels(levels: object) -> str | None:
    """`load, forward, pipeline (fill-mask), train`: the validation levels the model passed."""
    if not isinstance(levels, Mapping):
        return None
    parts = []
    for level, outcome in levels.items():
        if isinstance(outcome, Mapping):
            tasks = [t for t, r in outcome.items() if r == "ok"]
            if tasks:
                parts.append(f"{level} ({', '.join(tasks)})")
        elif outcome == "ok":
            parts.append(str(level))
    return ", ".join(parts) or None


def _source_cell(source: str | None) -> str | None:
    """`original:org/name` -> "the original `org/name`"; None (no row) for no component."""
    if not isinstance(source, str) or source == "none":
        return None
    return f"the original `{source.split(':', 1)[1]}`" if source.startswith("original:") else source


def _made(facts: CardFacts) -> str:
    """The card's first sentence on how the tokenizer was made (blank builds: as before)."""
    source = facts.get("tokenizer_source")
    if isinstance(source, str) and source.startswith("original:"):
        return (f"Built by tinymodels: the configuration was shrunk to a few small layers, the tokenizer of\n"
                f"`{source.split(':', 1)[1]}` was retrained to the vocabulary size below (keeping its pipeline,\n"
                "special tokens and chat template)")
    return ("Built offline by tinymodels: the configuration was shrunk to a few small layers, the\n"
            "tokenizer (if any) was trained from blank to the vocabulary size below")


def render_card(repo_id: str, facts: CardFacts) -> str:
    """The README.md text (YAML metadata + Markdown) for `repo_id`; deterministic."""
    from huggingface_hub import ModelCard, ModelCardData

    arch = facts["architecture"]
    model_class = arch.split("-", 1)[0]
    data = ModelCardData(library_name="transformers", tags=list(TAGS), pipeline_tag=pipeline_tag_for(arch))
    rows: list[tuple[str, object]] = [
        ("Architecture", f"`{model_class}`"),
        ("Model type", f"`{facts['model_type']}`" if facts.get("model_type") else None),
        ("Config class", f"`{facts['config_class']}`" if facts.get("config_class") else None),
        ("Built with", f"tinymodels {facts['tool_version']}"),
        ("transformers version", facts.get("transformers_version")),
        ("Config source", facts.get("config_source")),
        ("Tokenizer corpus", facts.get("corpus")),
        ("Vocabulary size", facts.get("vocab_size")),
        ("Seed", facts.get("seed")),
        ("Parameters", f"{facts['params']:,}" if isinstance(facts.get("params"), int) else facts.get("params")),
        ("Tokenizers", ", ".join(f"`{t}`" for t in facts.get("tokenizers") or []) or None),
        ("Processors", ", ".join(f"`{p}`" for p in facts.get("processors") or []) or None),
        ("Chat template", None if not facts.get("chat_template") else "the original checkpoint's"
         if facts["chat_template"] == "original" else f"{facts['chat_template']} format"),
        ("Tokenizer source", _source_cell(facts.get("tokenizer_source"))),
        ("Processor source", _source_cell(facts.get("processor_source"))),
        ("Validated", facts.get("validated")),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v not in (None, ""))
    usage = ["from transformers import " + model_class, ""]
    if facts.get("tokenizers"):
        usage[0] = f"from transformers import AutoTokenizer, {model_class}"
        usage.append(f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")')
    usage.append(f'model = {model_class}.from_pretrained("{repo_id}")')
    body = f"""
# {repo_id.split("/")[-1]}

A tiny, randomly initialised `{model_class}` for tests and CI. Its weights are random,
so its outputs are meaningless: use it to exercise code paths quickly, not for inference.

## How it was made

{_made(facts)}, the model was
instantiated with a fixed seed, saved with safetensors, reloaded through the Auto classes
and validated the way tests use it (the levels it passed are listed below: forward pass,
generation, `transformers.pipeline` tasks on padded batches, chat template, a training step).

| | |
| --- | --- |
{table}

## Usage

```python
{chr(10).join(usage)}
```
"""
    content = f"---\n{data.to_yaml()}\n---\n{body}"
    # Round-trip through ModelCard so the metadata is checked the way the Hub client checks it.
    return str(ModelCard(content))


def model_card(folder: Path, repo_id: str, architecture: str, info: ArchEntry, entry: Entry,
               config_class: str | None = None) -> str:
    """Render the card for the checkpoint in `folder` (see `card_facts`, `render_card`)."""
    return render_card(repo_id, card_facts(folder, architecture, info, entry, config_class))
