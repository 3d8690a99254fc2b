"""The processor registry: a value built from the `dataflow.processors` entry-point group."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from dataflow.processor.base import Processor

ENTRY_POINT_GROUP = "dataflow.processors"
log = logging.getLogger(__name__)


class Registry:
    """Processor classes by type name. Tests build one holding only what they need."""

    def __init__(self, processors: Iterable[type[Processor]] = ()):
        self._by_name: dict[str, type[Processor]] = {}
        self.load_errors: dict[str, str] = {}
        for cls in processors:
            self.add(cls)

    def add(self, cls: type[Processor]) -> None:
        name = cls.spec.name
        if name in self._by_name and self._by_name[name] is not cls:
            raise ValueError(f"processor type {name!r} registered twice")
        self._by_name[name] = cls

    def get(self, name: str) -> type[Processor] | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[type[Processor]]:
        return iter(sorted(self._by_name.values(), key=lambda c: c.spec.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> Registry:
        registry = cls()
        for ep in entry_points(group=group):
            try:
                loaded = ep.load()
                registry.add(loaded)
            except Exception as exc:  # a broken plugin must not take the server down
                registry.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "cannot load processor %s from %s: %s",
                    ep.name,
                    ep.value,
                    registry.load_errors[ep.name],
                )
        return registry


@functools.cache
def default_registry() -> Registry:
    return Registry.from_entry_points()
