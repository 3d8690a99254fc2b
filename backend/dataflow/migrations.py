"""Flow format migrations: each step rewrites a document of one format version into the next.

A document enters through `migrate` wherever it comes from (an import, a file given to the
CLI, the example flows, a flow read back from the journal), so the rest of the server only
ever sees the current shapes. A step works on plain JSON and never fails: what it does not
recognise it leaves as it is, for validation to report with its path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]
Config = dict[str, Any]


def _lookup_join_reference(config: Config) -> Config:
    """lookup_join's `source` with its flat fields -> `reference: {kind, ...}` (format 2)."""
    if "source" not in config or "reference" in config:
        return config
    kind = config["source"]
    moved = {
        "file": ("path", "format"),
        "postgres": ("dsn", "query"),
        "redis": ("url", "key", "cache_size"),
    }.get(kind, ())
    # Fields of the other kinds were ignored before; with the union they would be unknown
    # fields inside `reference`, so they are dropped rather than moved.
    other = {"path", "format", "dsn", "query", "url", "key", "cache_size"} - set(moved)
    reference = {"kind": kind} | {k: config[k] for k in moved if k in config}
    rest = {k: v for k, v in config.items() if k != "source" and k not in moved and k not in other}
    return {"reference": reference, **rest}


_WINDOW_FIELDS = (
    "time_column",
    "window_seconds",
    "max_out_of_orderness_seconds",
    "allowed_lateness_seconds",
)


def _aggregate_mode(config: Config) -> Config:
    """aggregate's `mode` string with its flat fields -> `mode: {kind, ...}` (format 2)."""
    mode = config.get("mode", "running")
    fields = ("emit", *_WINDOW_FIELDS, "slide_seconds")
    if not isinstance(mode, str) or not ({"mode", *fields} & set(config)):
        return config
    moved = {
        "running": ("emit",),
        "tumbling": ("emit", *_WINDOW_FIELDS),
        "sliding": ("emit", *_WINDOW_FIELDS, "slide_seconds"),
    }.get(mode, ())
    into = {k: config[k] for k in moved if k in config}
    if mode != "running" and into.get("emit") == "updates":
        # The default, meaningless with windows: it was accepted, so it must not now fail.
        del into["emit"]
    rest = {k: v for k, v in config.items() if k != "mode" and k not in fields}
    return {**rest, "mode": {"kind": mode, **into}}


def _http_poll_pagination(config: Config) -> Config:
    """http_poll's `pagination` string with its fields -> `pagination: {kind, ...}` (format 2)."""
    kind = config.get("pagination", "none")
    fields = ("next_pointer", "page_param", "first_page")
    if not isinstance(kind, str) or not ({"pagination", *fields} & set(config)):
        return config
    moved = {"next_link": ("next_pointer",), "page_param": ("page_param", "first_page")}.get(
        kind, ()
    )
    rest = {k: v for k, v in config.items() if k != "pagination" and k not in fields}
    return {**rest, "pagination": {"kind": kind} | {k: config[k] for k in moved if k in config}}


_RULES = {
    "int64": {"min", "max", "allowed"},
    "double": {"min", "max", "allowed"},
    "string": {"min", "max", "pattern", "allowed"},
    "bool": {"allowed"},
}


def _validate_schema_rules(config: Config) -> Config:
    """validate_schema's fields became a union by `type` (format 2), with only the rules of
    their type: a rule another type has, set to null (accepted before), is dropped."""
    fields = config.get("fields")
    if not isinstance(fields, list):
        return config
    kept = []
    for field in fields:
        if isinstance(field, dict):
            own = _RULES.get(str(field.get("type")), set())
            field = {
                k: v
                for k, v in field.items()
                if not (k in ("min", "max", "pattern", "allowed") and v is None and k not in own)
            }
        kept.append(field)
    return {**config, "fields": kept}


def _nodes(step: dict[str, Callable[[Config], Config]]) -> Callable[[Doc], Doc]:
    """A document step that rewrites the config of every node of the given types."""

    def run(doc: Doc) -> Doc:
        nodes = doc.get("nodes")
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict) and isinstance(node.get("config"), dict):
                rewrite = step.get(str(node.get("type")))
                if rewrite is not None:
                    node["config"] = rewrite(node["config"])
        return doc

    return run


#: STEPS[i] turns format i + 1 into format i + 2. Append a step to change the format.
STEPS: list[Callable[[Doc], Doc]] = [
    _nodes(  # 1 -> 2
        {
            "lookup_join": _lookup_join_reference,
            "aggregate": _aggregate_mode,
            "http_poll": _http_poll_pagination,
            "validate_schema": _validate_schema_rules,
        }
    ),
]
FORMAT_VERSION = len(STEPS) + 1


def migrate(doc: Any, to: int = FORMAT_VERSION) -> Any:
    """The document rewritten into format `to` (a copy; the input is not changed).

    A document without `format_version` is taken as format 1, the only one that could leave
    it out: steps leave shapes they do not recognise alone, so a current document without
    it comes through unchanged. Anything that is not a document, or whose version is not a
    known older one, comes back as it is: validation reports it.
    """
    to = min(to, FORMAT_VERSION)
    if not isinstance(doc, dict):
        return doc
    version = doc.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < to:
        return doc
    doc = copy.deepcopy(doc)
    while version < to:
        doc = STEPS[version - 1](doc)
        version += 1
        doc["format_version"] = version
    return doc
