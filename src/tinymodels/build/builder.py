"""One model type end to end: tiny config → processors → models → validation → result entry.

`build_model_type` is what a worker runs. It writes validated architecture folders
into `out_dir` (the runner moves them into place) and returns upstream's result
entry for the creation report. Nothing fails silently: every architecture that is
not built carries an error, its traceback and a category (`stages`).

The pieces: `stages` (failures and their entries), `processor_plan` (which processor
classes), `prepare` (tokenizer, aligned config, processors), `composite` (a composite's
two sides instead), `architectures` (build and validate each architecture).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinymodels.build.architectures import build_architectures, skipped_architectures
from tinymodels.build.composite import folder_name, prepare_composite
from tinymodels.build.prepare import build_processors
from tinymodels.build.stages import StageError, fail_all, nothing_to_build, run_stage
from tinymodels.config.model_type import ModelType
from tinymodels.options import BuildOptions


def quiet_libraries() -> None:
    """Silence transformers' per-model progress bars and advice; our own log says what happened."""
    import warnings

    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()
    warnings.filterwarnings("ignore")


def one_thread() -> None:
    """Run torch on one thread: tiny models gain nothing from intra-op threads, and with parallel
    workers on few cores the threads' spin-waits oversubscribe them (measured: a tiny BERT forward
    0.27 s with 2 threads beside two busy workers, 0.002 s with 1)."""
    import torch

    torch.set_num_threads(1)


def build_model_type(model_type: str, options: BuildOptions, out_dir: Path) -> tuple[str, dict[str, Any]]:
    """Build every architecture of `model_type` into `out_dir`; return (config class name, entry).

    The type is looked up once (`ModelType.resolve`) and handed to every stage. A build from an
    original checkpoint that fails is redone from blank (`blank_rebuild.fall_back_to_blank`)."""
    from tinymodels.preprocess.blank_rebuild import fall_back_to_blank

    resolved = ModelType.resolve(model_type)
    config_name, entry = _build_model_type(resolved, options, out_dir)
    return config_name, fall_back_to_blank(entry, options, out_dir,
                                           lambda opts, folder: _build_model_type(resolved, opts, folder)[1])


def _build_model_type(model_type: ModelType, options: BuildOptions, out_dir: Path) -> tuple[str, dict[str, Any]]:
    start = time.perf_counter()
    skip_arch = skipped_architectures(model_type)
    archs = [a for a in model_type.architectures if a not in options.skip]
    entry: dict[str, Any] = {"model_type": model_type.name, "processor": {}, "pytorch": {}}
    folder: Callable[[str], str] = str  # a composite's folder names both sides: `Arch-enc-dec`
    if model_type.composite:
        enc_type, dec_type = model_type.composite
        entry["composite"] = {"encoder": enc_type, "decoder": dec_type}
        folder = functools.partial(folder_name, encoder=enc_type, decoder=dec_type)

    def finish() -> tuple[str, dict[str, Any]]:
        entry["seconds"] = round(time.perf_counter() - start, 3)
        return model_type.config_name, entry

    if nothing_to_build(entry, model_type.override, archs):
        return finish()
    try:
        if model_type.composite:
            config, procs = prepare_composite(model_type, options, entry)
        else:
            config, procs = _prepare(model_type, options, entry, out_dir)
    except StageError as err:
        fail_all(entry, err, archs)
        return finish()
    entry["processor"] = {n: n for n in procs.class_names()}
    entry.update(procs.sources)
    build_architectures(entry, model_type, archs, skip_arch, config, procs, options, out_dir, folder)
    return finish()


def _prepare(model_type: ModelType, options: BuildOptions, entry: dict[str, Any], out_dir: Path) -> tuple[Any, Any]:
    """(Config, processors) of a plain model type: its tiny config, then `prepare.build_processors`;
    records the config source and vocabulary size in `entry`. Raises `StageError`."""
    from tinymodels.config.upstream_config import tiny_config_for

    out_dir.mkdir(parents=True, exist_ok=True)
    tiny, entry["config_source"] = run_stage("config", tiny_config_for, model_type.name, options)
    procs, config, vocab = build_processors(model_type, tiny, options)
    if vocab is not None:
        entry["vocab_size"] = vocab
    return config, procs
