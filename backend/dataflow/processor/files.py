"""Files a flow may touch: paths confined to the server's file roots, and globs that cannot
walk forever (a huge tree, or symlinks that loop)."""

from __future__ import annotations

import glob as _glob
import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Directory entries a glob may look at before it gives up.
DEFAULT_GLOB_ENTRIES = 100_000
#: Seconds a glob may take before it gives up.
DEFAULT_GLOB_SECONDS = 10.0


class PathNotAllowed(PermissionError):
    """A path outside every file root (after resolving `..` and symlinks)."""

    def __init__(self, path: str, roots: Sequence[Path]):
        shown = ", ".join(str(r) for r in roots) or "none configured"
        super().__init__(
            f"{path} is outside the server's file roots ({shown}): ask an admin to add its "
            "directory to the file_roots setting"
        )
        self.path = path


class GlobTooLarge(OSError):
    """A glob that would look at more entries, or take longer, than allowed."""


def resolve(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """The absolute path with `..` and every symlink resolved (missing parts kept)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return p.resolve(strict=False)


def inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def confine(path: str | os.PathLike[str], roots: Sequence[Path] | None) -> Path:
    """The resolved path when it lies inside one of `roots`; PathNotAllowed otherwise.
    `roots` None means no confinement (in-process tools and tests without a server)."""
    resolved = resolve(path)
    if roots is None:
        return resolved
    real_roots = [resolve(r) for r in roots]
    if not inside(resolved, real_roots):
        raise PathNotAllowed(str(path), real_roots)
    return resolved


def glob_root(pattern: str) -> str:
    """The leading part of a pattern without wildcards: where a walk for it starts."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if _glob.has_magic(part):
            break
        fixed.append(part)
    if len(fixed) == len(parts):
        return str(Path(*fixed).parent) if fixed else "."
    return str(Path(*fixed)) if fixed else "."


def _segment_regex(segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := segment.find("]", i + 2)) != -1:
            body = segment[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    # Like glob: a wildcard never matches a name's leading dot.
    return ("(?!\\.)" if not segment.startswith(".") else "") + "".join(out)


def _pattern_regex(relative: str) -> re.Pattern[str]:
    parts = [p for p in relative.split("/") if p]
    regex = ""
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        if part == "**":
            regex += "(?:(?!\\.)[^/]+/)*" if not last else "(?:(?!\\.)[^/]+/)*(?!\\.)[^/]+"
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex + "$")


def bounded_glob(
    pattern: str,
    *,
    max_entries: int = DEFAULT_GLOB_ENTRIES,
    max_seconds: float = DEFAULT_GLOB_SECONDS,
) -> list[str]:
    """Files matching `pattern` (`*`, `?`, `[...]`, `**` for any depth), sorted. Walks at
    most `max_entries` directory entries for at most `max_seconds`, follows each directory
    (symlinked or not) once, and raises GlobTooLarge past either limit."""
    if not _glob.has_magic(pattern):
        return [pattern] if os.path.isfile(pattern) else []
    root = glob_root(pattern)
    relative = os.path.relpath(pattern, root) if root != "." else pattern
    matcher = _pattern_regex(relative.replace(os.sep, "/"))
    depth_limit = None if "**" in relative else relative.count("/") + 1
    dotted = relative.startswith(".") or "/." in relative
    deadline = time.monotonic() + max_seconds
    seen: set[tuple[int, int]] = set()
    entries = 0
    found: list[str] = []
    for directory, dirs, files in os.walk(root, followlinks=True):
        try:
            info = os.stat(directory)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:  # a symlink back into the walk
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        entries += len(dirs) + len(files)
        if entries > max_entries:
            raise GlobTooLarge(
                f"{pattern}: more than {max_entries} directory entries under {root}; "
                "narrow the pattern"
            )
        if time.monotonic() > deadline:
            raise GlobTooLarge(f"{pattern}: listing took more than {max_seconds:g} s; narrow it")
        rel_dir = os.path.relpath(directory, root)
        level = 0 if rel_dir == "." else rel_dir.count(os.sep) + 1
        if depth_limit is not None and level + 1 >= depth_limit:
            dirs[:] = []
        if not dotted:  # wildcards never match dot names: skip their trees
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if matcher.match(rel):
                path = os.path.join(directory, name)
                found.append(os.path.relpath(path) if root == "." else path)
    return sorted(found)
