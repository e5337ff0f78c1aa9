"""What every architecture of a model type shares: its tokenizer, its aligned config and its processors.

`build_processors` trains the tokenizer (blank, or the original's retrained: `originals.open_source`),
gives it the special and plain tokens the config, processor, chat format and generation tables
need, aligns the config with it, then builds the image/video processors, feature extractor and
`ProcessorMixin` the type's processor plan (`processor_plan.plan_processors`) names.
"""

from __future__ import annotations

from typing import Any

from tinymodels.build.processor_plan import plan_processors, tokenizer_class
from tinymodels.build.stages import run_stage
from tinymodels.config.model_type import ModelType
from tinymodels.options import BuildOptions


def build_processors(model_type: ModelType, tiny: dict[str, Any], options: BuildOptions) -> tuple[Any, Any, int | None]:
    """Tokenizer + aligned config + processors. Returns (Processors, config, vocab_size)."""
    from tinymodels.build.metadata import (
        ensure_mask_token,
        ensure_pad_token,
        fill_pad_ids,
        set_model_max_length,
    )
    from tinymodels.build.speech import add_tokens as add_speech_tokens
    from tinymodels.build.speech import config_fields as speech_config_fields
    from tinymodels.build.speech import has_speech_tokens, table_tokens
    from tinymodels.config.generation_family import family_of
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.preprocess.align import (
        align_with_processor,
        align_with_tokenizer,
        clamp_token_ids,
        text_configs,
        tokenizer_vocab_size,
    )
    from tinymodels.preprocess.feature_extractors import build_feature_extractor
    from tinymodels.preprocess.image_processors import build_image_processor, scale_image_grid
    from tinymodels.preprocess.originals import open_source
    from tinymodels.preprocess.processors import Processors, build_processor
    from tinymodels.preprocess.special_tokens import (
        add_pad_token,
        add_plain_tokens,
        add_special_tokens,
        pads_by_default,
        processor_added_tokens,
    )
    from tinymodels.validate.chat import attach_template, format_for

    name, override = model_type.name, model_type.override
    # The one place where the tokenizer/processor source (blank, or the original checkpoint's) is chosen.
    source = open_source(name, options)
    classes, component_kwargs, processor_kwargs, borrowed = plan_processors(model_type)
    procs = Processors()
    if borrowed:
        procs.warnings.append(borrowed)
    vocab: int | None = None
    chat = _chat_capable(model_type, classes.processor)
    tok_class = tokenizer_class(model_type, tiny, classes.processor)
    if tok_class:
        procs.tokenizer = run_stage("tokenizer", source.tokenizer, tok_class, options.corpus, options.vocab_size)
        # The processor class is read inside the stages: a class whose library is missing
        # (MusicGen Melody's needs torchaudio) raises on attribute access, a missing dependency.
        run_stage("tokenizer", lambda: add_special_tokens(procs.tokenizer,
                                                          _model_special_tokens(classes, tiny, procs, override)))
        if classes.processor and run_stage("processor", pads_by_default, classes.processor):
            add_pad_token(procs.tokenizer)
        if classes.processor:
            run_stage("tokenizer", lambda: add_plain_tokens(procs.tokenizer, processor_added_tokens(classes.processor)))
        if chat:
            # The family format's turn tokens, before the config's vocabulary follows the tokenizer.
            add_plain_tokens(procs.tokenizer, list(format_for(name).tokens))
        notes = [ensure_pad_token(procs.tokenizer)]
        if model_type.has_head("MODEL_FOR_MASKED_LM_MAPPING_NAMES"):
            notes.append(ensure_mask_token(procs.tokenizer))
        procs.warnings.extend(n for n in notes if n)
        family = family_of(name)
        # Tokens the family's generation tables name (SeamlessM4T's `__eng__`), as a checkpoint holds.
        add_plain_tokens(procs.tokenizer, table_tokens(family))
        if has_speech_tokens(family):
            # Last: the family's tokenizer takes every id after its last special token as a timestamp.
            add_speech_tokens(procs.tokenizer, family)
        fill_pad_ids(text_configs(tiny), procs.tokenizer)
        vocab = align_with_tokenizer(tiny, procs.tokenizer)
        if has_speech_tokens(family):
            tiny.update(speech_config_fields(procs.tokenizer))
    else:
        clamp_token_ids(tiny, options.vocab_size)
    image_size = override.image_size if override else None
    scale_image_grid(tiny, image_size)
    config = run_stage("config", config_from_dict, name, tiny)
    if procs.tokenizer is not None:
        set_model_max_length(procs.tokenizer, config)
    if classes.image_processor:
        procs.image_processor = run_stage("processor", build_image_processor, classes.image_processor, config, image_size,
                                          component_kwargs.get("image_processor"),
                                          source.settings("image_processor", classes.image_processor))
    if classes.video_processor:
        procs.video_processor = run_stage("processor", build_image_processor, classes.video_processor, config, image_size,
                                          component_kwargs.get("video_processor"),
                                          source.settings("video_processor", classes.video_processor))
    if classes.feature_extractor:
        procs.feature_extractor = run_stage("processor", build_feature_extractor, classes.feature_extractor, config,
                                            component_kwargs.get("feature_extractor"),
                                            source.settings("feature_extractor", classes.feature_extractor))
    if classes.processor:
        procs.processor = run_stage("processor", build_processor, classes.processor, procs, config, processor_kwargs)
        if procs.tokenizer is not None and vocab is not None and tokenizer_vocab_size(procs.tokenizer) > vocab:
            # The processor added tokens of its own (Idefics3's <fake_token_around_image>…): the
            # config's vocabulary and token ids follow the grown tokenizer.
            vocab = align_with_tokenizer(tiny, procs.tokenizer)
            config = run_stage("config", config_from_dict, name, tiny)
        align_with_processor(config, procs.processor)
    if chat and procs.tokenizer is not None:
        procs.chat_format = source.keep_template(procs) or attach_template(name, procs)
    procs.sources = source.record()
    procs.warnings.extend(source.warnings())
    return procs, config, vocab


def _chat_capable(model_type: ModelType, processor_class: str | None) -> bool:
    """Whether some architecture of the type needs a chat template (`validate.chat.wants_template`)."""
    from tinymodels.validate.chat import wants_template

    try:
        return any(wants_template(m, processor_class) for m in model_type.architectures.values())
    except ImportError:  # a processor class of a library that is not installed
        return False


def _model_special_tokens(classes: Any, tiny: dict[str, Any], procs: Any, override: Any) -> dict[str, str]:
    """Named special tokens the tokenizer must carry: those the config's out-of-vocabulary ids
    name, those the processor class reads from its tokenizer, then per-type data (later wins)."""
    from tinymodels.preprocess.special_tokens import config_special_tokens, processor_special_tokens

    tokens = config_special_tokens(tiny, len(procs.tokenizer))
    if classes.processor:
        tokens.update(processor_special_tokens(classes.processor))
    if override and override.special_tokens:
        tokens.update(override.special_tokens)
    return tokens
