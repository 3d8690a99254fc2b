"""The built-in processor library, registered through the `dataflow.processors` entry points."""
