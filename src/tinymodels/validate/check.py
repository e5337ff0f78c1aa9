"""Run the selected validation levels on one reloaded architecture, in order, recording each.

`record` is filled as levels pass (`{"load": "ok", "pipeline": {"fill-mask": "ok"}, …}`), so the
caller reports what passed before a level failed. Levels that do not apply are not recorded.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tinymodels.preprocess.processors import Processors
from tinymodels.validate.levels import OK, LevelSkipped


def has_chat_template(procs: Processors) -> bool:
    """Whether the saved checkpoint carries a chat template (tokenizer or processor)."""
    owners = (procs.processor, procs.tokenizer, procs.text_tokenizer)
    return any(getattr(o, "chat_template", None) for o in owners if o is not None)


def run_levels(model: Any, arch: str, folder: Path, inputs: dict[str, Any], mappings: tuple[str, ...],
               procs: Processors, levels: frozenset[str], seed: int, record: dict[str, Any],
               skips: dict[str, str] | None = None, timings: dict[str, float] | None = None) -> None:
    """Validate `model` (reloaded from `folder`) at every selected level that applies; `skips`
    (the type's `skip_levels` data) names levels (`generate` included), or `pipeline/<task>`, that cannot pass upstream;
    `timings` receives the seconds each level took."""
    from tinymodels.validate.chat import chats, run_chat
    from tinymodels.validate.forward import generates, validate_model
    from tinymodels.validate.pipeline_tasks import tasks_for, upstream_skips
    from tinymodels.validate.pipelines import run_pipelines
    from tinymodels.validate.train import run_train

    timer = _Timer(timings if timings is not None else {})
    skips = skips or {}
    record["load"] = OK
    if levels & {"forward", "generate"}:
        timer.start("forward")
        skip_generate = "generate" in levels and "generate" in skips and generates(model, arch, mappings)
        generated = validate_model(model, arch, inputs, mappings, generate="generate" in levels and not skip_generate)
        record["forward"] = OK
        if generated:
            record["generate"] = OK
        elif skip_generate:
            record["generate"] = f"skipped: {skips['generate']}"
    processor_class = type(procs.processor).__name__ if procs.processor is not None else None
    if "pipeline" in levels:
        timer.start("pipeline")
        tasks = tasks_for(arch, mappings, procs, model)
        if tasks:
            record["pipeline"] = {}
            upstream = upstream_skips(model, tasks)
            task_skips = {t: skips.get(f"pipeline/{t}") or skips.get("pipeline", "") or upstream.get(t, "") for t in tasks}
            run_pipelines(folder, tasks, {t: r for t, r in task_skips.items() if r}, record["pipeline"],
                          chat=chats(mappings, processor_class))
    if "chat" in levels and chats(mappings, processor_class) and has_chat_template(procs):
        owner = procs.processor if procs.processor is not None else procs.tokenizer
        if "chat" in skips:
            record["chat"] = f"skipped: {skips['chat']}"
        elif not getattr(owner, "chat_template", None):
            record["chat"] = (f"skipped: {processor_class}.__init__ does not pass `chat_template` on, so the "
                              "processor loads without the saved template (upstream limitation)")
        else:
            timer.start("chat")
            run_chat(model, arch, procs, folder, mappings)
            record["chat"] = OK
    if "train" in levels:
        if "train" in skips:
            timer.stop()
            record["train"] = f"skipped: {skips['train']}"
            return
        timer.start("train")
        try:
            run_train(model, arch, procs, mappings, seed)
        except LevelSkipped:
            return
        finally:
            timer.stop()
        record["train"] = OK
    timer.stop()


class _Timer:
    """Seconds per level into `into` (a level runs until the next starts or `stop`)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.level, self.since = into, "", 0.0

    def start(self, level: str) -> None:
        self.stop()
        self.level, self.since = level, time.perf_counter()

    def stop(self) -> None:
        if self.level:
            self.into[self.level] = round(self.into.get(self.level, 0.0) + time.perf_counter() - self.since, 3)
        self.level = ""
