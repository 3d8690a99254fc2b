"""Processor config structs: the one declaration behind validation, docs and canvas forms."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

ErrorPolicy = Literal["fail", "route", "retry", "drop"]


def ui(
    title: str | None = None,
    description: str | None = None,
    *,
    widget: str | None = None,
    placeholder: str | None = None,
    advanced: bool = False,
    secret: bool = False,
    examples: list[Any] | None = None,
    **constraints: Any,
) -> msgspec.Meta:
    """Field metadata: constraints (ge, le, min_length, pattern...) plus `ui:*` form hints.

    The hints ride inside the JSON Schema; the catalog splits them into a ui-schema.
    """
    extra: dict[str, Any] = {}
    if widget:
        extra["ui:widget"] = widget
    if placeholder:
        extra["ui:placeholder"] = placeholder
    if advanced:
        extra["x-advanced"] = True
    if secret:
        extra["x-secret"] = True
    return msgspec.Meta(
        title=title,
        description=description,
        examples=examples,
        extra_json_schema=extra or None,
        **constraints,
    )


class ProcessorConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every processor config; the error policy applies to every kind."""

    on_error: Annotated[
        ErrorPolicy,
        ui(
            "On error",
            "fail: stop the run; route: send the batch to the `failure` port with an `error`"
            " column; retry: try again with backoff, then fail; drop: discard and count.",
            advanced=True,
        ),
    ] = "fail"
    max_retries: Annotated[int, ui("Retries", advanced=True, ge=0, le=100)] = 3
    retry_backoff_seconds: Annotated[
        float, ui("Retry backoff (s)", "First wait; doubles each retry.", advanced=True, ge=0)
    ] = 0.5


class TransformConfig(ProcessorConfig, kw_only=True):
    """Stateless transforms may run several batches at once."""

    concurrency: Annotated[
        int,
        ui(
            "Concurrency",
            "Batches processed at the same time (order is kept).",
            advanced=True,
            ge=1,
            le=64,
        ),
    ] = 1
