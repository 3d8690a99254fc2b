"""Edge queues: thresholds, markers, merged inboxes, barrier alignment bookkeeping."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from dataflow.runtime.markers import END_OF_STREAM, Barrier, BarrierAligner
from dataflow.runtime.queues import EdgeQueue, Inbox


def batch(n: int = 1) -> pa.RecordBatch:
    return pa.record_batch({"a": pa.array(range(n), pa.int64())})


async def blocked(coro, seconds: float = 0.05) -> asyncio.Task:
    """Start `coro` and check it is still waiting after a moment."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(seconds)
    assert not task.done()
    return task


async def test_put_blocks_at_the_batch_count_threshold():
    queue = EdgeQueue("e", max_batches=2, max_bytes=1 << 30)
    await queue.put(batch())
    await queue.put(batch())
    assert queue.fill_ratio == 1.0
    third = await blocked(queue.put(batch()))
    assert queue.blocked
    queue.get_nowait()
    await asyncio.wait_for(third, 5)
    assert queue.batches == 2
    assert queue.backpressure_seconds > 0
    assert not queue.blocked


async def test_put_blocks_at_the_byte_threshold():
    one = batch(100)  # 800 bytes
    queue = EdgeQueue("e", max_batches=100, max_bytes=one.nbytes * 2)
    await queue.put(one)
    await queue.put(one)
    assert queue.bytes == 2 * one.nbytes
    assert queue.fill_ratio == 1.0
    third = await blocked(queue.put(one))
    queue.get_nowait()
    await asyncio.wait_for(third, 5)
    assert queue.batches == 2


async def test_a_batch_bigger_than_max_bytes_enters_an_empty_queue_only():
    big = batch(1000)
    queue = EdgeQueue("e", max_batches=10, max_bytes=100)
    await asyncio.wait_for(queue.put(big), 5)  # would deadlock otherwise
    assert queue.fill_ratio > 1
    second = await blocked(queue.put(big))
    queue.get_nowait()
    await asyncio.wait_for(second, 5)


async def test_markers_take_no_room_and_keep_their_place():
    queue = EdgeQueue("e", max_batches=1, max_bytes=1 << 30)
    first = batch()
    await queue.put(first)
    queue.put_marker(Barrier(7))  # a full queue does not hold a marker up
    queue.put_marker(END_OF_STREAM)
    assert queue.batches == 1
    assert [queue.get_nowait()[0] for _ in range(3)] == [first, Barrier(7), END_OF_STREAM]
    assert queue.get_nowait() is None


async def test_counters_track_what_passed():
    queue = EdgeQueue("e", max_batches=10, max_bytes=1 << 30)
    for n in (1, 2, 3):
        await queue.put(batch(n))
    queue.get_nowait()
    assert (queue.records_passed, queue.batches_passed) == (6, 3)
    assert (queue.batches, queue.bytes) == (2, batch(2).nbytes + batch(3).nbytes)
    assert queue.fill_ratio == pytest.approx(0.2)


async def test_inbox_merges_inputs_without_starving_any():
    a = EdgeQueue("a", 10, 1 << 30)
    b = EdgeQueue("b", 10, 1 << 30)
    inbox = Inbox([("in", a), ("in", b)])
    for _ in range(3):
        await a.put(batch())
    await b.put(batch())
    got = [(await inbox.get())[1].edge_id for _ in range(4)]
    assert got[:2] in (["a", "b"], ["b", "a"])
    assert sorted(got) == ["a", "a", "a", "b"]


async def test_inbox_waits_for_the_first_arrival_on_any_input():
    a = EdgeQueue("a", 10, 1 << 30)
    b = EdgeQueue("b", 10, 1 << 30)
    inbox = Inbox([("left", a), ("right", b)])
    getter = await blocked(inbox.get())
    await b.put(batch(2))
    port, queue, item, nbytes = await asyncio.wait_for(getter, 5)
    assert (port, queue, item.num_rows, nbytes) == ("right", b, 2, batch(2).nbytes)


async def test_inbox_takes_nothing_while_its_gate_is_closed():
    gate = asyncio.Event()
    queue = EdgeQueue("a", 10, 1 << 30)
    inbox = Inbox([("in", queue)], gate)
    await queue.put(batch())
    getter = await blocked(inbox.get())
    assert len(queue) == 1
    gate.set()
    await asyncio.wait_for(getter, 5)


async def test_inbox_holds_an_input_back_after_its_barrier_until_every_input_sent_it():
    a = EdgeQueue("a", 10, 1 << 30)
    b = EdgeQueue("b", 10, 1 << 30)
    inbox = Inbox([("left", a), ("right", b)])
    a.put_marker(Barrier(1))
    await a.put(batch(5))  # after the barrier: must wait for b's barrier
    await b.put(batch(2))
    await b.put(batch(3))
    b.put_marker(Barrier(1))
    assert (await inbox.get())[2] == Barrier(1)
    assert inbox.held == {"a"}
    # b's records before its barrier, not a's after it.
    assert [(await inbox.get())[2].num_rows for _ in range(2)] == [2, 3]
    assert (await inbox.get())[2] == Barrier(1)
    assert inbox.held == set()  # aligned: a's held batch comes now
    assert (await inbox.get())[2].num_rows == 5


async def test_inbox_waits_while_every_input_with_data_is_held():
    a = EdgeQueue("a", 10, 1 << 30)
    b = EdgeQueue("b", 10, 1 << 30)
    inbox = Inbox([("left", a), ("right", b)])
    a.put_marker(Barrier(1))
    await a.put(batch(5))
    assert (await inbox.get())[2] == Barrier(1)
    getter = await blocked(inbox.get())
    b.put_marker(Barrier(1))
    assert (await asyncio.wait_for(getter, 5))[2] == Barrier(1)
    assert (await inbox.get())[2].num_rows == 5


async def test_an_input_that_ends_releases_the_inputs_held_at_a_barrier():
    a = EdgeQueue("a", 10, 1 << 30)
    b = EdgeQueue("b", 10, 1 << 30)
    inbox = Inbox([("left", a), ("right", b)])
    a.put_marker(Barrier(1))
    await a.put(batch(5))
    b.put_marker(END_OF_STREAM)
    assert (await inbox.get())[2] == Barrier(1)
    assert (await inbox.get())[2] == END_OF_STREAM
    assert inbox.held == set()
    assert (await inbox.get())[2].num_rows == 5
    a.put_marker(Barrier(2))  # a single open input: nothing to align, nothing held
    await a.put(batch(1))
    assert (await inbox.get())[2] == Barrier(2)
    assert (await inbox.get())[2].num_rows == 1


def test_barrier_goes_on_once_every_input_sent_it():
    aligner = BarrierAligner(["a", "b"])
    assert aligner.barrier("a", 1) == []
    assert aligner.barrier("a", 2) == []
    assert aligner.barrier("b", 1) == [1]
    assert aligner.barrier("b", 2) == [2]
    assert not aligner.ended


def test_an_ended_input_no_longer_holds_barriers_back():
    aligner = BarrierAligner(["a", "b"])
    assert aligner.barrier("a", 1) == []
    assert aligner.end_of_stream("b") == [1]
    assert aligner.barrier("a", 2) == [2]
    assert aligner.end_of_stream("a") == []
    assert aligner.ended
