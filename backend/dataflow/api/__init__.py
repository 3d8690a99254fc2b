"""The HTTP API: thin Litestar controllers over the domain modules."""

from dataflow.api.app import create_app

__all__ = ["create_app"]
