"""A model type resolved once: what every build stage asks about it.

`ModelType.resolve` looks the type up through `config.discover` (config class, architectures
with their auto mappings, processor classes, composite sides) and `knowledge` (its override
entry) a single time; the build stages read these fields instead of looking the name up again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinymodels.config.discover import ProcessorClasses
    from tinymodels.knowledge import Override


@dataclass(frozen=True)
class ModelType:
    """One model type as transformers and our knowledge files describe it."""

    name: str
    config_class: type[Any]
    # Architecture class name -> the auto mappings that register it (`discover.architecture_mappings`).
    architectures: Mapping[str, tuple[str, ...]]
    # Its per-type knowledge entry, None when it has none.
    override: Override | None
    # (encoder type, decoder type) of a composite (`discover.COMPOSITES`), else None.
    composite: tuple[str, str] | None = None

    @classmethod
    def resolve(cls, name: str) -> ModelType:
        """Look `name` up once."""
        from tinymodels.config.discover import COMPOSITES, architecture_mappings, config_class
        from tinymodels.knowledge import override_for

        return cls(name=name, config_class=config_class(name),
                   architectures=MappingProxyType(architecture_mappings(name)),
                   override=override_for(name), composite=COMPOSITES.get(name))

    @property
    def config_name(self) -> str:
        """The config class's name: upstream's reports key model types by it."""
        return self.config_class.__name__

    @functools.cached_property
    def processors(self) -> ProcessorClasses:
        """The processor classes transformers registers for the type (`discover.processor_classes`).

        Looked up on first use, not in `resolve`: a type skipped by its override never asks, and
        a composite asks inside its processor stage, where a failure is recorded as that stage's."""
        from tinymodels.config.discover import processor_classes

        return processor_classes(self.name)

    def has_head(self, mapping: str) -> bool:
        """Whether some architecture of the type is registered in the auto mapping `mapping`."""
        return any(mapping in m for m in self.architectures.values())
