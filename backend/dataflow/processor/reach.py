"""What a flow may reach on the server: the directories it may read and write (file roots),
the hosts its HTTP processors may call, and how much a glob may walk.

The server builds one Reach from its settings and hands it to every processor through its
Context, both when a flow is validated and when it runs. A processor checks what it will
touch with `Reach.path` and `Reach.url`, and declares design-time checks in
`Processor.confine()`, so a path outside the roots is an error on the field before the flow
can be saved as runnable, and is refused again when the run opens it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dataflow.processor.files import (
    DEFAULT_GLOB_ENTRIES,
    DEFAULT_GLOB_SECONDS,
    PathNotAllowed,
    bounded_glob,
    confine,
    glob_root,
)


class HostNotAllowed(PermissionError):
    def __init__(self, url: str, hosts: Sequence[str]):
        super().__init__(
            f"{url}: its host is not one the server lets flows call ({', '.join(hosts)}); "
            "ask an admin to add it to the http_allowed_hosts setting"
        )
        self.url = url


@dataclass(frozen=True)
class Reach:
    """None for `file_roots` or `http_hosts` means no limit: in-process tools and tests that
    run without a server. A server always sets file roots."""

    file_roots: tuple[Path, ...] | None = None
    #: Host names, `*.domain` suffixes, IP addresses or CIDR networks; None: any host.
    http_hosts: tuple[str, ...] | None = None
    glob_max_entries: int = DEFAULT_GLOB_ENTRIES
    glob_max_seconds: float = DEFAULT_GLOB_SECONDS

    def path(self, path: str) -> Path:
        """The resolved path when it lies inside a file root; PathNotAllowed otherwise."""
        return confine(path, self.file_roots)

    def pattern(self, pattern: str) -> Path:
        """Check where a glob starts: its fixed leading directory must lie inside a root."""
        return confine(glob_root(pattern), self.file_roots)

    def glob(self, pattern: str) -> list[str]:
        """The files matching `pattern`, bounded, each inside a root (a symlink from inside
        a root to a file outside is refused, not followed)."""
        self.pattern(pattern)
        found = bounded_glob(
            pattern, max_entries=self.glob_max_entries, max_seconds=self.glob_max_seconds
        )
        for match in found:
            self.path(match)
        return found

    def url(self, url: str) -> str:
        """The URL when its host is allowed; HostNotAllowed otherwise."""
        if self.http_hosts is None:
            return url
        host = (urlsplit(url).hostname or "").lower()
        if not any(_host_matches(host, allowed) for allowed in self.http_hosts):
            raise HostNotAllowed(url, self.http_hosts)
        return url


def _host_matches(host: str, allowed: str) -> bool:
    allowed = allowed.strip().lower()
    if not host or not allowed:
        return False
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    try:
        network = ipaddress.ip_network(allowed, strict=False)
    except ValueError:
        return host == allowed
    try:
        return ipaddress.ip_address(host) in network
    except ValueError:
        return False


__all__ = ["HostNotAllowed", "PathNotAllowed", "Reach"]
