"""The `pipeline` level: `transformers.pipeline(task, model=<folder>)` as users call it.

Every task whose auto class maps the architecture (transformers' `SUPPORTED_TASKS`) and whose
inputs the checkpoint can read (`resources/pipeline-tasks.yaml`, see `validate.pipeline_tasks`)
runs on a standard sample of the task (`validate.pipeline_samples`): a batch of 1, then a batch
of 2 of different lengths at `batch_size=2`, which needs padding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinymodels.validate.levels import FAILED, OK, LevelError
from tinymodels.validate.pipeline_samples import SAMPLES, _Context
from tinymodels.validate.pipeline_tasks import TaskSpec


def staged_budget(model: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` for the model's `generate`, a bare `max_new_tokens` given to the first stage of a
    generate that routes `<stage>_` arguments to chained sub-models (Bark's `semantic_`: later
    stages set their own lengths, and a bare one collides with them)."""
    from tinymodels.validate.forward import generation_stages

    stages = generation_stages(model)
    if not stages or "max_new_tokens" not in kwargs:
        return kwargs
    out = {k: v for k, v in kwargs.items() if k != "max_new_tokens"}
    return {**out, f"{stages[0]}max_new_tokens": kwargs["max_new_tokens"]}


def _check(result: Any, expected: int | None, task: str) -> None:
    # An empty list is an answer (a random detector may find no box); None is not.
    if result is None:
        raise ValueError(f"{task} returned nothing")
    if expected is not None and (not isinstance(result, list) or len(result) != expected):
        raise ValueError(f"{task}: {expected} inputs gave {len(result) if isinstance(result, list) else 1} outputs")


def run_task(folder: Path, spec: TaskSpec, chat: bool = False) -> None:
    """Load the checkpoint through `transformers.pipeline` and run the task on 1 and 2 inputs
    (`chat`: the model is a chat model, see `TaskSpec.chat_input`)."""
    import torch
    from transformers import pipeline

    from tinymodels.config.generation_family import family_of

    pipe = pipeline(spec.name, model=str(folder), device="cpu")
    ctx = _Context(pipe)
    extra = dict(spec.kwargs)
    if pipe.model.can_generate():
        # Arguments the family's generate requires from users (SeamlessM4T's `tgt_lang`).
        required = (family_of(pipe.model.config.model_type) or {}).get("generate_kwargs") or {}
        if spec.generate_kwargs or required:
            extra["generate_kwargs"] = staged_budget(pipe.model, {**spec.generate_kwargs, **required})
    single, batch = spec.input, spec.batch
    processor = getattr(pipe, "processor", None)
    if spec.chat_input and not chat and getattr(processor, "chat_template", None):
        single, batch = spec.chat_input, spec.chat_batch
        extra.update(spec.chat_kwargs)
    parts = _processor_parts(processor)
    if spec.audio_input and "feature_extractor" in parts and "image_processor" not in parts:
        single, batch = spec.audio_input, spec.audio_batch
    args, kwargs = SAMPLES[single](ctx)
    with torch.no_grad():
        _check(pipe(*args, **kwargs, **extra), None, spec.name)
        args, kwargs = SAMPLES[batch](ctx)
        _check(pipe(*args, **kwargs, **extra, batch_size=spec.batch_size), 2, spec.name)


def _processor_parts(processor: Any) -> set[str]:
    """The components a pipeline's processor holds (`feature_extractor`, `image_processor`…)."""
    if processor is None:
        return set()
    have = {a for a in processor.get_attributes() if getattr(processor, a, None) is not None}
    return have | ({"feature_extractor"} if "audio_processor" in have else set())


def run_pipelines(folder: Path, tasks: dict[str, TaskSpec], skips: dict[str, str],
                  done: dict[str, str] | None = None, chat: bool = False) -> dict[str, str]:
    """Run every applicable task; fills and returns `done` ({task: "ok" | "skipped: reason"});
    raises LevelError naming the first task that fails (`done` then holds those before it).
    `chat`: the architecture is a chat model."""
    done = {} if done is None else done
    for task, spec in sorted(tasks.items()):
        reason = spec.skip or skips.get(task, "")
        if reason:
            done[task] = f"skipped: {reason}"
            continue
        try:
            run_task(folder, spec, chat)
        except Exception as exc:
            done[task] = FAILED
            raise LevelError("pipeline", exc, detail=task) from exc
        done[task] = OK
    return done
