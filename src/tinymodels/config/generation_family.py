"""Generation families: the entry of `resources/generation.yaml` `families` a model type belongs to.

A family is keyed by a class in the MRO of one of the type's model classes: a generation mixin
(Whisper's), else the model class itself (SeamlessM4T's). What a family adds to a build (tokens,
generation-config tables) is `build.speech`'s; the `generate` arguments it requires
(`generate_kwargs`) the pipeline level passes. It sits below both (`validate` may not import
`build`) and above `knowledge`, since it reads the type's classes through `config.discover`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any


@functools.cache
def families() -> dict[str, dict[str, Any]]:
    """`families` of `resources/generation.yaml` (each with a reason: the schema requires it)."""
    from tinymodels.knowledge import load_resource

    return dict(load_resource("generation.yaml").get("families") or {})


def family_of(model_type: str) -> dict[str, Any] | None:
    """The generation family of a model type: a class (a mixin, or the model class itself) in the
    MRO of one of its model classes."""
    import transformers

    from tinymodels.config.discover import architecture_mappings

    for arch in architecture_mappings(model_type):
        try:
            cls = getattr(transformers, arch, None)
            names = {c.__name__ for c in inspect.getmro(cls)} if isinstance(cls, type) else set()
        except ImportError:
            continue
        for mixin, family in families().items():
            if mixin in names:
                return family
    return None
