"""The processor SDK: what a processor declares (config, spec, ports) and the three kinds."""

from dataflow.processor.base import (
    Context,
    Processor,
    SchemaError,
    Sink,
    Source,
    Transform,
)
from dataflow.processor.config import ErrorPolicy, ProcessorConfig, TransformConfig, ui
from dataflow.processor.ingest import (
    BackPressured,
    Ingest,
    IngestAuth,
    IngestClosed,
    IngestError,
    InvalidRecords,
    TooManyRecords,
)
from dataflow.processor.registry import Registry, default_registry
from dataflow.processor.spec import ProcessorSpec

__all__ = [
    "BackPressured",
    "Context",
    "ErrorPolicy",
    "Ingest",
    "IngestAuth",
    "IngestClosed",
    "IngestError",
    "InvalidRecords",
    "Processor",
    "ProcessorConfig",
    "ProcessorSpec",
    "Registry",
    "SchemaError",
    "Sink",
    "Source",
    "TooManyRecords",
    "Transform",
    "TransformConfig",
    "default_registry",
    "ui",
]
