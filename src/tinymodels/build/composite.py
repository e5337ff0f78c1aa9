"""Composite models (encoder-decoder pairs), named as upstream: `EncoderDecoderModel-bert-bert`.

Each side is a tiny model type built with our own pieces (tiny config, tokenizer,
processors); the composite config is combined by the composite config class itself
(`from_encoder_decoder_configs` / `from_vision_text_configs`), the model is
instantiated with the seed, saved with BOTH sides' processors into
`out_dir/<Composite>-<enc>-<dec>/`, reloaded through its Auto class and validated on
the output of its reloaded processors. The report key is the composite class name
(`EncoderDecoderModel`, as in upstream's summary); the folder keeps both type names.

`prepare_composite` is the composite's counterpart of a plain type's `prepare.build_processors`:
`builder.build_model_type` runs everything else (skips, failures, every architecture through
`architectures.build_architectures`) the same way for both.
"""

from __future__ import annotations

from typing import Any

from tinymodels.build.prepare import build_processors
from tinymodels.build.stages import run_stage
from tinymodels.config.model_type import ModelType
from tinymodels.options import BuildOptions


def folder_name(arch: str, encoder: str, decoder: str) -> str:
    """Upstream's folder (and Hub repo) name: `EncoderDecoderModel-bert-bert`."""
    return f"{arch}-{encoder}-{decoder}"


def _side(name: str, options: BuildOptions, extra: dict[str, Any]) -> tuple[Any, Any, str]:
    """(Processors, config, config source) of one side, built like a standalone model type."""
    from tinymodels.config.upstream_config import tiny_config_for

    model_type = ModelType.resolve(name)
    tiny, source = run_stage("config", tiny_config_for, name, options)
    tiny.update(extra)
    procs, config, _vocab = build_processors(model_type, tiny, options)
    return procs, config, source


def _token_id(*candidates: Any) -> int | None:
    return next((c for c in candidates if isinstance(c, int) and not isinstance(c, bool) and c >= 0), None)


def combine_configs(model_type: ModelType, first: Any, second: Any, tokenizer: Any) -> Any:
    """The composite config from its two sides, via the composite config class's own constructor.

    Encoder-decoder composites also get the decoder's start and pad token ids, which their
    forward pass (labels shifting) and `generate` need and which no side config carries.
    """
    cls = model_type.config_class
    if hasattr(cls, "from_vision_text_configs"):
        return cls.from_vision_text_configs(first, second)
    config = cls.from_encoder_decoder_configs(first, second)
    tok = tokenizer  # BERT-style decoders start from [CLS] and end with [SEP], GPT-2 from bos/eos
    start = _token_id(getattr(second, "decoder_start_token_id", None), getattr(tok, "cls_token_id", None),
                      getattr(tok, "bos_token_id", None), getattr(second, "bos_token_id", None))
    eos = _token_id(getattr(tok, "sep_token_id", None), getattr(tok, "eos_token_id", None),
                    getattr(second, "eos_token_id", None))
    pad = _token_id(getattr(tok, "pad_token_id", None), getattr(second, "pad_token_id", None), eos)
    config.decoder_start_token_id = start
    config.pad_token_id = pad
    config.eos_token_id = eos
    return config


def _is_cross_attention(model_type: ModelType) -> bool:
    """Encoder-decoder composites (the decoder attends to the encoder), not dual encoders."""
    return hasattr(model_type.config_class, "from_encoder_decoder_configs")


def combine_processors(model_type: ModelType, encoder: Any, decoder: Any, config: Any = None) -> Any:
    """Encoder's image processor / feature extractor + decoder's tokenizer.

    As the composite's ProcessorMixin when transformers maps one to the composite type
    (`VisionTextDualEncoderProcessor`), else side by side in one folder so that
    AutoTokenizer and AutoImageProcessor/AutoFeatureExtractor each load theirs.
    """
    from tinymodels.preprocess.originals import combine_records
    from tinymodels.preprocess.processors import Processors, build_processor

    parts = Processors(tokenizer=decoder.tokenizer, image_processor=encoder.image_processor,
                       feature_extractor=encoder.feature_extractor, video_processor=encoder.video_processor,
                       chat_format=decoder.chat_format, warnings=[*encoder.warnings, *decoder.warnings],
                       sources=combine_records(encoder.sources, decoder.sources))
    name = model_type.processors.processor
    if name:
        parts.processor = build_processor(name, parts, config)
    return parts


def prepare_composite(model_type: ModelType, options: BuildOptions, entry: dict[str, Any]) -> tuple[Any, Any]:
    """(Config, processors) of a composite type from its two sides, each built like a standalone
    model type; records the sides' config sources in `entry`. Raises `StageError`."""
    if model_type.composite is None:
        raise ValueError(f"{model_type.name} is not a composite model type")
    enc_type, dec_type = model_type.composite
    cross = _is_cross_attention(model_type)
    extra = {"is_decoder": True, "add_cross_attention": True} if cross else {}
    enc_procs, enc_config, enc_source = _side(enc_type, options, {})
    dec_procs, dec_config, dec_source = _side(dec_type, options, extra)
    entry["config_source"] = enc_source if enc_source == dec_source else f"{enc_source}+{dec_source}"
    entry["composite"]["config_source"] = {"encoder": enc_source, "decoder": dec_source}
    config = run_stage("config", combine_configs, model_type, enc_config, dec_config, dec_procs.tokenizer)
    procs = run_stage("processor", combine_processors, model_type, enc_procs, dec_procs, config)
    return config, procs
