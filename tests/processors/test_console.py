"""console: counts and the first records of each batch in the log."""

import logging


async def test_logs_counts_and_first_rows(h, caplog):
    from dataflow_processors.console import Console

    sink = h.make(Console, {"rows": 2, "label": "orders"})
    with caplog.at_level(logging.INFO, logger="dataflow.node"):
        await h.run_sink(sink, [[{"id": i, "ok": True} for i in range(3)], [{"id": 9, "ok": None}]])
    assert [r.getMessage() for r in caplog.records] == [
        "orders: 3 records (3 in total)",
        'orders: {"id":0,"ok":true}',
        'orders: {"id":1,"ok":true}',
        "orders: 1 records (4 in total)",
        'orders: {"id":9,"ok":null}',
    ]
