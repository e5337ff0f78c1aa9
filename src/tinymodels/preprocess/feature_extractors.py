"""Feature extractors (audio, per-frame features), sized to the tiny config.

The extractor keeps its class defaults (sampling rate, normalisation) or an original
checkpoint's settings; only its feature size follows the mel bins, or the width, of the
tiny audio encoder.
"""

from __future__ import annotations

from typing import Any

from tinymodels.config.walk import config_tree

# Config fields giving the number of mel bins (or other per-frame features) the audio encoder reads.
_MEL_FIELDS = ("num_mel_bins", "input_feat_per_channel", "input_feat_size")


def _mel_bins(config: Any) -> int | None:
    """Mel bins the audio encoder expects: the first `_MEL_FIELDS` value of the config or of its
    sub-configs, breadth first (Canary's `encoder_config`, an omni model's `audio_config.asr_config`)."""
    if config is None:
        return None
    for cfg in config_tree(config):
        for name in _MEL_FIELDS:
            value = getattr(cfg, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 1:
                return value
    return None


# Config fields holding the model width, which some extractors' features are fed at directly.
_WIDTH_FIELDS = ("d_model", "hidden_size")


def _width_features(size: Any, config: Any) -> int | None:
    """The tiny model width when the extractor's default feature size is the default config's width:
    its features are the encoder's input embeddings (Pop2Piano's 512 mel bands = d_model), so they
    follow the tiny width. None for a config without mel fields that does not match."""
    if config is None or not isinstance(size, int) or size <= 1:
        return None
    try:
        reference = type(config)()
    except Exception:  # noqa: BLE001 - a config class that needs arguments has no defaults to compare
        return None
    for name in _WIDTH_FIELDS:
        value = getattr(config, name, None)
        if getattr(reference, name, None) == size and isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def build_feature_extractor(class_name: str, config: Any, extra: dict[str, Any] | None = None,
                            base: dict[str, Any] | None = None) -> Any:
    """The feature extractor with feature size / mel bins matching the tiny config (then `extra`),
    starting from `base` settings (an original checkpoint's) instead of the class defaults."""
    import transformers

    cls = getattr(transformers, class_name)
    default = cls(**(base or {}))
    kwargs: dict[str, Any] = dict(base or {})
    mel = _mel_bins(config)
    if mel is None:
        mel = _width_features(getattr(default, "feature_size", None), config)
    if mel is not None and getattr(default, "feature_size", mel) != mel:
        kwargs["feature_size"] = mel
        if hasattr(default, "num_mel_bins"):
            kwargs["num_mel_bins"] = mel
    kwargs.update(extra or {})
    return cls(**kwargs) if kwargs else default
