"""FlowStore: the event-sourced flow design aggregate, where each save is a version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from dataflow.events.actor import SYSTEM, with_actor
from dataflow.events.diff import FlowDiff, MergeConflict, diff_flows, events_between, merge
from dataflow.events.flow_events import (
    FlowCreated,
    FlowDeleted,
    FlowEvent,
    FlowReverted,
    apply,
    decode_event,
    encode_event,
    event_type,
    summarize,
)
from dataflow.events.journal import ConcurrencyError, Journal, RecordedEvent
from dataflow.model import FORMAT_VERSION, Flow, Id, migrate_flow, new_id

STREAM_PREFIX = "flow-"
_MAX_ATTEMPTS = 20  # each retry means another writer landed, so this only bounds a stampede


class FlowError(Exception):
    """Base of the store's errors: each names the flow (and version) it is about."""


class FlowNotFound(FlowError):
    def __init__(self, flow_id: str):
        super().__init__(f"flow {flow_id!r} not found")
        self.flow_id = flow_id


class VersionNotFound(FlowError):
    def __init__(self, flow_id: str, version: int, current_version: int):
        super().__init__(
            f"flow {flow_id!r} has no version {version} (current version: {current_version})"
        )
        self.flow_id = flow_id
        self.version = version
        self.current_version = current_version


class FlowExists(FlowError):
    def __init__(self, flow_id: str):
        super().__init__(f"flow {flow_id!r} already exists")
        self.flow_id = flow_id


class StaleVersion(FlowError):
    """A write that cannot merge (delete, revert) was based on an older version."""

    def __init__(self, flow_id: str, expected_version: int, current_version: int):
        super().__init__(
            f"flow {flow_id!r} is at version {current_version}, expected {expected_version}"
        )
        self.flow_id = flow_id
        self.expected_version = expected_version
        self.current_version = current_version


class FlowState(msgspec.Struct, kw_only=True):
    """A flow document as of one version; times are unix seconds, `deleted` as of that version."""

    flow: Flow
    version: int
    created_at: float
    updated_at: float
    deleted: bool = False


class SaveResult(msgspec.Struct, kw_only=True):
    state: FlowState
    merged: bool
    events: list[FlowEvent]
    changed: bool


class VersionInfo(msgspec.Struct, kw_only=True):
    version: int
    recorded_at: float
    summary: str
    event_count: int
    merged: bool = False
    base_version: int = 0


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One journal event of a flow: the audit trail."""

    #: Who caused it: a user, "user (token NAME)", or "dataflow" for the server's own work.
    actor: str = SYSTEM
    flow_version: int
    stream_version: int
    position: int
    recorded_at: float
    type: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    stream: str = ""


class _Snapshot(msgspec.Struct, kw_only=True):
    """What the journal's snapshot of a flow stream holds (keyed by its stream version)."""

    state: FlowState
    stream_version: int


class _Loaded(msgspec.Struct, kw_only=True):
    state: FlowState
    stream_version: int
    snapshot_version: int  # stream version of the newest snapshot at or below stream_version


_snapshot_decoder = msgspec.json.Decoder(_Snapshot)


def stream_name(flow_id: str) -> str:
    return f"{STREAM_PREFIX}{flow_id}"


class FlowStore:
    """Create, read at any version, save (merging stale writes), diff, revert and delete flows.

    Flow versions count saves; journal versions count events. Every event carries its
    save's `flow_version` and the `format_version` its configs are written in (absent: 1)
    in metadata, and the first event of a save also `summary`, `base_version` and
    `merged`: that is the whole mapping, kept inside this module.

    Events are folded in the format they were written in: the flow is migrated just before
    an event of a newer format applies, and to the current format when a read or a save
    is done with it, so a journal written by an older DataFlow keeps working.
    """

    def __init__(self, journal: Journal, snapshot_every: int = 50):
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.journal = journal
        self.snapshot_every = snapshot_every

    async def create(self, flow: Flow, *, checked: bool = False) -> FlowState:
        """Store a new flow. `checked`: the flow was just decoded by the validator (which
        enforced every constraint and owns no other reference to it), so it is not copied
        and checked again."""
        if not checked:
            flow = _validated(flow)
        if not flow.id:
            flow.id = new_id("flow-")
        _check_id(flow.id)
        event = FlowCreated(flow=flow)
        metadata = _save_metadata(1, [event], base_version=0, merged=False)
        try:
            await self.journal.append(stream_name(flow.id), 0, [encode_event(event, metadata)])
        except ConcurrencyError:
            raise FlowExists(flow.id) from None
        loaded = await self._load(flow.id)
        await self._maybe_snapshot(flow.id, loaded)
        return loaded.state

    async def exists(self, flow_id: str) -> bool:
        """Whether the id is taken (deleted flows keep theirs)."""
        return await self.journal.stream_version(stream_name(flow_id)) > 0

    async def get(
        self, flow_id: str, version: int | None = None, *, include_deleted: bool = False
    ) -> FlowState:
        return (await self._load(flow_id, version, include_deleted=include_deleted)).state

    async def save(
        self, flow_id: str, doc: Flow, expected_version: int, *, checked: bool = False
    ) -> SaveResult:
        """Save the whole document, based on `expected_version` (`checked` as in create).

        A stale base is three-way merged with the current version (MergeConflict when it
        cannot be); a write racing another one is re-read and merged again.
        """
        if doc.id and doc.id != flow_id:
            raise ValueError(f"document id {doc.id!r} does not match flow {flow_id!r}")
        doc = msgspec.structs.replace(doc if checked else _validated(doc), id=flow_id)
        attempt = 0
        while True:  # each pass returns, raises, or retries a lost race
            attempt += 1
            current = await self._load(flow_id)
            version = current.state.version
            if not 1 <= expected_version <= version:
                raise VersionNotFound(flow_id, expected_version, version)
            target, merged = doc, expected_version < version
            if merged:
                base = (await self._load(flow_id, expected_version)).state.flow
                try:
                    target = merge(base, current.state.flow, doc)
                except MergeConflict as exc:
                    exc.current_version = version
                    raise
            events = events_between(current.state.flow, target)
            if not events:
                return SaveResult(state=current.state, merged=merged, events=[], changed=False)
            try:
                loaded = await self._append(current, events, expected_version, merged)
            except ConcurrencyError:
                if attempt == _MAX_ATTEMPTS:
                    raise
                continue
            return SaveResult(state=loaded.state, merged=merged, events=events, changed=True)

    async def delete(self, flow_id: str, expected_version: int | None = None) -> FlowState:
        """Soft delete: reads then answer FlowNotFound, but the stream stays for audit."""
        loaded = await self._append_checked(flow_id, expected_version, lambda _: [FlowDeleted()])
        return loaded.state

    async def revert(
        self, flow_id: str, to_version: int, expected_version: int | None = None
    ) -> FlowState:
        """A new version whose document equals version `to_version` (none if it already does)."""
        target = (await self._load(flow_id, to_version)).state.flow

        def revert_events(current: Flow) -> list[FlowEvent]:
            changes = events_between(current, target)
            return [FlowReverted(to_version=to_version), *changes] if changes else []

        return (await self._append_checked(flow_id, expected_version, revert_events)).state

    async def versions(self, flow_id: str, *, include_deleted: bool = False) -> list[VersionInfo]:
        versions: list[VersionInfo] = []
        for recorded in await self._read_all(flow_id, include_deleted):
            meta = recorded.metadata
            if versions and versions[-1].version == meta["flow_version"]:
                versions[-1].event_count += 1
                continue
            versions.append(
                VersionInfo(
                    version=meta["flow_version"],
                    recorded_at=recorded.recorded_at,
                    summary=meta.get("summary", ""),
                    event_count=1,
                    merged=meta.get("merged", False),
                    base_version=meta.get("base_version", 0),
                )
            )
        return versions

    async def history(self, flow_id: str, *, include_deleted: bool = False) -> list[HistoryEntry]:
        return [
            HistoryEntry(
                actor=recorded.metadata.get("actor", SYSTEM),
                flow_version=recorded.metadata["flow_version"],
                stream_version=recorded.version,
                position=recorded.position,
                recorded_at=recorded.recorded_at,
                type=recorded.type,
                payload=msgspec.json.decode(recorded.data),
                metadata=recorded.metadata,
                stream=recorded.stream,
            )
            for recorded in await self._read_all(flow_id, include_deleted)
        ]

    async def diff(
        self, flow_id: str, from_version: int, to_version: int, *, include_deleted: bool = False
    ) -> FlowDiff:
        a = await self._load(flow_id, from_version, include_deleted=include_deleted)
        b = await self._load(flow_id, to_version, include_deleted=include_deleted)
        return diff_flows(a.state.flow, b.state.flow)

    # ------------------------------------------------------------------ internals

    async def _load(
        self, flow_id: str, version: int | None = None, *, include_deleted: bool = False
    ) -> _Loaded:
        """The state at flow `version` (the current one when None).

        Starts from the newest snapshot at or below that version, so only the tail is
        replayed. Each later save holds at least one event, which bounds where version N
        can end: stream end - (current version - N).
        """
        stream = stream_name(flow_id)
        end = await self.journal.stream_version(stream)
        if end == 0:
            raise FlowNotFound(flow_id)
        last = (await self.journal.read(stream, end, end))[0]
        current_version = last.metadata["flow_version"]
        if last.type == event_type(FlowDeleted) and not include_deleted:
            raise FlowNotFound(flow_id)
        version = current_version if version is None else version
        if not 1 <= version <= current_version:
            raise VersionNotFound(flow_id, version, current_version)

        upper = end - (current_version - version)
        snapshot = await self._snapshot(stream, upper)
        while snapshot is not None and snapshot.state.version > version:
            upper = min(upper, snapshot.stream_version - (snapshot.state.version - version))
            snapshot = await self._snapshot(stream, upper)
        state = snapshot.state if snapshot else None
        start = snapshot.stream_version if snapshot else 0
        stream_version = start
        for recorded in await self.journal.read(stream, start + 1, upper):
            if recorded.metadata["flow_version"] > version:
                break
            state = _apply(state, recorded)
            stream_version = recorded.version
        assert state is not None, f"stream {stream!r} does not start with FlowCreated"
        return _Loaded(state=_current(state), stream_version=stream_version, snapshot_version=start)

    async def _snapshot(self, stream: str, max_version: int) -> _Snapshot | None:
        if max_version < 1:
            return None
        snapshot = await self.journal.load_snapshot(stream, max_version)
        if snapshot is None:
            return None
        try:
            return _snapshot_decoder.decode(snapshot.data)
        except msgspec.DecodeError:
            # A snapshot is a cache: one in a layout this code no longer reads is replayed
            # past, and the next save writes a fresh one.
            return None

    async def _maybe_snapshot(self, flow_id: str, loaded: _Loaded) -> None:
        # Snapshots sit at save boundaries: they hold a whole version's state.
        if loaded.stream_version - loaded.snapshot_version >= self.snapshot_every:
            snapshot = _Snapshot(state=loaded.state, stream_version=loaded.stream_version)
            await self.journal.save_snapshot(
                stream_name(flow_id), loaded.stream_version, msgspec.json.encode(snapshot)
            )

    async def _append(
        self, current: _Loaded, events: list[FlowEvent], base_version: int, merged: bool
    ) -> _Loaded:
        """Append one save after `current`; raises ConcurrencyError if another writer got in."""
        flow_id = current.state.flow.id
        version = current.state.version + 1
        metadata = _save_metadata(version, events, base_version=base_version, merged=merged)
        batch = [
            encode_event(event, metadata if i == 0 else _metadata(version))
            for i, event in enumerate(events)
        ]
        end = await self.journal.append(stream_name(flow_id), current.stream_version, batch)
        state = current.state
        for recorded in await self.journal.read(
            stream_name(flow_id), current.stream_version + 1, end
        ):
            state = _apply(state, recorded)
        loaded = _Loaded(
            state=_current(state), stream_version=end, snapshot_version=current.snapshot_version
        )
        await self._maybe_snapshot(flow_id, loaded)
        return loaded

    async def _append_checked(
        self,
        flow_id: str,
        expected_version: int | None,
        make_events: Callable[[Flow], list[FlowEvent]],
    ) -> _Loaded:
        """Append events computed from the current document, for writes that cannot merge."""
        attempt = 0
        while True:  # each pass returns, raises, or retries a lost race
            attempt += 1
            current = await self._load(flow_id)
            version = current.state.version
            if expected_version is not None and expected_version != version:
                raise StaleVersion(flow_id, expected_version, version)
            events = make_events(current.state.flow)
            if not events:
                return current
            try:
                return await self._append(current, events, version, merged=False)
            except ConcurrencyError:
                if attempt == _MAX_ATTEMPTS:
                    raise

    async def _read_all(self, flow_id: str, include_deleted: bool) -> list[RecordedEvent]:
        events = await self.journal.read(stream_name(flow_id))
        if not events or (events[-1].type == event_type(FlowDeleted) and not include_deleted):
            raise FlowNotFound(flow_id)
        return events


def _apply(state: FlowState | None, recorded: RecordedEvent) -> FlowState:
    event = decode_event(recorded)
    version = recorded.metadata["flow_version"]
    written_in = recorded.metadata.get("format_version", 1)
    if state is not None and state.flow.format_version < written_in:
        state = msgspec.structs.replace(state, flow=migrate_flow(state.flow, written_in))
    if state is None:
        flow = apply(None, event)
        return FlowState(
            flow=flow,
            version=version,
            created_at=recorded.recorded_at,
            updated_at=recorded.recorded_at,
        )
    return FlowState(
        flow=apply(state.flow, event),
        version=version,
        created_at=state.created_at,
        updated_at=recorded.recorded_at,
        deleted=state.deleted or isinstance(event, FlowDeleted),
    )


def _current(state: FlowState) -> FlowState:
    """The state with its flow in the current format."""
    if state.flow.format_version >= FORMAT_VERSION:
        return state
    return msgspec.structs.replace(state, flow=migrate_flow(state.flow))


def _metadata(version: int) -> dict[str, Any]:
    return with_actor({"flow_version": version, "format_version": FORMAT_VERSION})


def _save_metadata(
    version: int, events: list[FlowEvent], *, base_version: int, merged: bool
) -> dict[str, Any]:
    return {
        **_metadata(version),
        "summary": summarize(events),
        "base_version": base_version,
        "merged": merged,
    }


def _check_id(flow_id: str) -> None:
    # The id names a journal stream and a URL path, so it obeys the node id rule.
    try:
        msgspec.convert(flow_id, Id)
    except msgspec.ValidationError as exc:
        raise msgspec.ValidationError(f"{exc} - at `$.id`") from None


def _validated(flow: Flow) -> Flow:
    """A checked deep copy: structs built in Python skip the constraints decoding enforces."""
    return msgspec.json.decode(msgspec.json.encode(flow), type=Flow)
