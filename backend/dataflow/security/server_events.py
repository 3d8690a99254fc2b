"""The server aggregate: settings an admin changes at run time, as events on one stream."""

from __future__ import annotations

from typing import Literal

import msgspec

#: The journal stream of server setting changes (shared by the servers of one journal).
SERVER_STREAM = "server"

SettingName = Literal["python_enabled"]


class ServerEvent(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of server events; each names who caused it."""


class ServerSettingChanged(ServerEvent, tag="ServerSettingChanged", frozen=True):
    name: SettingName
    value: bool
    #: The identity that changed it (Identity.actor: "alice", "ci-bot (token deploy)").
    by: str


AnyServerEvent = ServerSettingChanged
_decoder = msgspec.json.Decoder(AnyServerEvent)


def decode_server_event(data: bytes) -> ServerEvent:
    return _decoder.decode(data)
