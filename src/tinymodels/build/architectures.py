"""Build and validate architectures: one (`build_architecture`), or all of a prepared type (`build_architectures`).

A prepared type is its aligned config and processors (`prepare.build_processors`, or a composite's
combined sides): they are saved once, reloaded as users will, and every architecture is
instantiated, saved, reloaded through its Auto class and validated at the selected levels on
the output of those reloaded processors. Plain model types and composites share this path.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tinymodels.build.stages import StageError, error_entry, fail_all, run_stage, skipped_entry
from tinymodels.config.model_type import ModelType
from tinymodels.options import BuildOptions


def reload_processors(path: Path, original: Any) -> Any:
    """Load the saved processors back through the Auto classes (what users will do)."""
    from transformers import (
        AutoFeatureExtractor,
        AutoImageProcessor,
        AutoProcessor,
        AutoTokenizer,
        AutoVideoProcessor,
    )

    from tinymodels.preprocess.processors import Processors

    loaded = Processors()
    if original.processor is not None:
        loaded.processor = AutoProcessor.from_pretrained(path)
        return loaded
    if original.tokenizer is not None:
        loaded.tokenizer = AutoTokenizer.from_pretrained(path)
    if original.image_processor is not None:
        loaded.image_processor = AutoImageProcessor.from_pretrained(path)
    if original.video_processor is not None:
        loaded.video_processor = AutoVideoProcessor.from_pretrained(path)
    if original.feature_extractor is not None:
        loaded.feature_extractor = AutoFeatureExtractor.from_pretrained(path)
    return loaded


def build_architecture(arch: str, model_type: ModelType, config: Any, procs_dir: Path, inputs: dict[str, Any],
                       out_dir: Path, options: BuildOptions, procs: Any = None, folder: str | None = None) -> dict[str, Any]:
    """Build, save, reload and validate one architecture into `out_dir/folder` (default: the
    architecture's name) at the selected levels (`procs`: the processors reloaded from
    `procs_dir`, which the levels use)."""
    from tinymodels.build.metadata import complete_generation_config
    from tinymodels.build.models import count_params, instantiate, reload, save, weights_bytes
    from tinymodels.build.speech import generation_fields
    from tinymodels.config.generation_family import family_of
    from tinymodels.validate.check import run_levels

    override = model_type.override
    mappings = model_type.architectures[arch]
    start = time.perf_counter()
    folder = folder or arch
    target = out_dir / folder
    model = run_stage("instantiate", instantiate, arch, config, options.seed)
    params = count_params(model)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(procs_dir, target)
    target.chmod(0o755)  # copied from a 0700 temporary directory
    tokenizer = None if procs is None else procs.text_tokenizer
    family = family_of(model_type.name)
    complete_generation_config(model, tokenizer, generation_fields(tokenizer, model.config, family) if family else {})
    run_stage("save-reload", save, model, target)
    del model
    reloaded = run_stage("save-reload", reload, arch, target, mappings)
    levels: dict[str, Any] = {}
    timings: dict[str, float] = {}
    try:
        run_stage("forward", run_levels, reloaded, arch, target, inputs, mappings, procs, options.validate,
                  options.seed, levels, override.skip_levels if override else {}, timings)
    except StageError as err:
        err.levels = levels
        raise
    return {
        "model": arch,
        "checkpoint": f"{model_type.name}/{folder}",
        "params": params,
        "bytes": weights_bytes(target),
        "levels": levels,
        "seconds": round(time.perf_counter() - start, 3),
        "level_seconds": {k: v for k, v in timings.items() if k in levels},
    }


def skipped_architectures(model_type: ModelType) -> dict[str, str]:
    """Architectures not to build, with why: not exported by transformers, or the type's
    `skip_architectures` data."""
    override = model_type.override
    return {**_unexported_architectures(model_type.architectures), **(override.skip_architectures if override else {})}


def _unexported_architectures(mappings: Mapping[str, Any]) -> dict[str, str]:
    """Mapped architectures that transformers does not export (VoxtralRealtimeTextModel): the Auto
    classes look a mapped name up in the package, so no checkpoint of them can be loaded (an
    upstream limitation); each is reported as skipped with that reason."""
    import transformers

    return {arch: f"{arch} is named by an Auto mapping but not exported by transformers, so the Auto "
                  "classes cannot load a saved checkpoint of it (upstream limitation)"
            for arch in mappings if not hasattr(transformers, arch)}


def build_architectures(entry: dict[str, Any], model_type: ModelType, archs: list[str], skip_arch: dict[str, str],
                        config: Any, procs: Any, options: BuildOptions, out_dir: Path,
                        folder: Callable[[str], str] = str) -> None:
    """Save the processors once, reload them as users will, and build every architecture of
    `archs` into `out_dir/folder(arch)` at the selected levels, recording each in `entry`.

    Shared by plain model types and composites (whose folders are `Arch-enc-dec`)."""
    from tinymodels.build.metadata import undecodable_ids
    from tinymodels.validate.inputs import processor_inputs, type_placeholders

    override = model_type.override
    if procs.warnings:
        entry.setdefault("warnings", []).extend(procs.warnings)
    if procs.chat_format:
        entry["chat_template"] = procs.chat_format
    tokenizer = procs.text_tokenizer
    undecodable = undecodable_ids(config, tokenizer) if tokenizer is not None else []
    if undecodable:
        entry.setdefault("warnings", []).append(f"metadata: token ids the tokenizer cannot decode: {', '.join(undecodable)}")
    fallback = getattr(procs.tokenizer, "tinymodels_fallback", None)
    if fallback:
        # The mapped tokenizer class could not be trained offline: say which one was used instead.
        entry.setdefault("warnings", []).append(f"tokenizer: {fallback}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinymodels-procs-") as tmp:
        procs_dir = Path(tmp)
        try:
            # The config beside the processors, as in the checkpoint: some processors are loaded
            # from config.json (timm's image processor reads its `pretrained_cfg` there).
            run_stage("processor", config.save_pretrained, procs_dir)
            run_stage("processor", procs.save, procs_dir)
            loaded = run_stage("processor", reload_processors, procs_dir, procs)
            text = override.inputs.get("text") if override else None
            call = override.inputs.get("call") if override else None
            inputs = run_stage("processor", processor_inputs, loaded, text, call, type_placeholders(model_type.name))
        except StageError as err:
            fail_all(entry, err, archs)
            return
        for arch in archs:
            if arch in skip_arch:
                entry["pytorch"][arch] = skipped_entry(skip_arch[arch])
                continue
            try:
                entry["pytorch"][arch] = build_architecture(arch, model_type, config, procs_dir, inputs, out_dir,
                                                            options, loaded, folder(arch))
            except StageError as err:
                shutil.rmtree(out_dir / folder(arch), ignore_errors=True)
                entry["pytorch"][arch] = error_entry(err)
