"""ServerSettingsStore: run-time server settings (whether `python` nodes may run), kept on
the journal's `server` stream so they survive restarts; and the gates a python node passes.

The `python` processor runs arbitrary code, so it has two gates: the server was started with
`--allow-python` (Settings.allow_python, which only whoever runs the server controls), and an
admin enabled it (`python_enabled`, through the API). Both must be open.
"""

from __future__ import annotations

import msgspec

from dataflow.events.journal import Journal
from dataflow.events.stream import StreamAggregate
from dataflow.security.server_events import (
    SERVER_STREAM,
    ServerEvent,
    ServerSettingChanged,
    decode_server_event,
)

NOT_STARTED_WITH_PYTHON = "the server was not started with --allow-python"
NOT_ENABLED = 'an admin has not enabled it (PATCH /api/v1/server/settings {"python_enabled": true})'


class ServerSettingError(ValueError):
    """A setting change the server refuses; `field` names the setting."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class ServerSettings(msgspec.Struct, kw_only=True):
    """The server's run-time settings, with what is needed to understand them."""

    #: An admin allows `python` nodes on this server (both gates: see python_available).
    python_enabled: bool = False
    #: The server was started with --allow-python (fixed for the process's lifetime).
    allow_python: bool = False
    #: Whether flows with `python` nodes may run here now: both of the above.
    python_available: bool = False
    #: Who last changed a setting, and when (unix seconds); None if never.
    changed_by: str | None = None
    changed_at: float | None = None


def python_gate(allow_python: bool, python_enabled: bool) -> str | None:
    """Why `python` nodes may not run (which gate is closed); None when both are open."""
    if not allow_python:
        return NOT_STARTED_WITH_PYTHON
    if not python_enabled:
        return NOT_ENABLED
    return None


class ServerSettingsStore(StreamAggregate):
    def __init__(self, journal: Journal, *, allow_python: bool, refresh_seconds: float = 5.0):
        super().__init__(journal, SERVER_STREAM, refresh_seconds=refresh_seconds)
        self.allow_python = allow_python
        self._python_enabled = False
        self._changed_by: str | None = None
        self._changed_at: float | None = None

    def decode(self, data: bytes) -> ServerEvent:
        return decode_server_event(data)

    def apply(self, event: msgspec.Struct, at: float) -> None:
        match event:
            case ServerSettingChanged(name="python_enabled", value=value, by=by):
                self._python_enabled = value
                self._changed_by, self._changed_at = by, at

    def current(self) -> ServerSettings:
        return ServerSettings(
            python_enabled=self._python_enabled,
            allow_python=self.allow_python,
            python_available=self.python_gate() is None,
            changed_by=self._changed_by,
            changed_at=self._changed_at,
        )

    def python_gate(self) -> str | None:
        """Why `python` nodes may not run here now; None when they may."""
        return python_gate(self.allow_python, self._python_enabled)

    async def set_python_enabled(self, value: bool, by: str) -> ServerSettings:
        """Open or close the admin's gate; opening it needs the server's own
        (--allow-python), closing it is always possible."""
        if value and not self.allow_python:
            raise ServerSettingError(
                f"cannot enable python: {NOT_STARTED_WITH_PYTHON}; restart it with that flag",
                "python_enabled",
            )
        event = ServerSettingChanged(name="python_enabled", value=value, by=by)
        await self.decide(lambda: [event] if self._python_enabled != value else [])
        return self.current()
