"""What a processor says about itself: name, category, ports, examples."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Category = Literal["source", "transform", "sink"]
Status = Literal["stable", "beta", "experimental"]


class ProcessorSpec(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    category: Category
    summary: str
    title: str = ""
    status: Status = "stable"
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    icon: str = ""
    examples: list[dict[str, Any]] = msgspec.field(default_factory=list)

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()
