"""What SQL written by users may reach: DuckDB with no files, network or extensions.

Every DuckDB connection that runs a flow's SQL (filter, sql, select, route, aggregate, ...,
at design time and at run time) or an edge sample's `where` is opened with this config, and
the config is locked, so `SET enable_external_access = true` inside a query is refused too.
"""

from __future__ import annotations

from typing import Any

import duckdb

SANDBOX_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


def sandboxed_duckdb(**config: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database with `config` (threads, memory_limit...) and the sandbox."""
    return duckdb.connect(config={**config, **SANDBOX_CONFIG})
