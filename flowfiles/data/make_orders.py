"""Write a deterministic orders CSV: `python flowfiles/data/make_orders.py ROWS OUT.csv`.

The example flows read flowfiles/data/orders.csv (2,000 rows, made by this script);
benchmarks use it for millions of rows. Columnar (numpy + pyarrow), so 2M rows take ~1 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COUNTRIES = np.array(["de", "fr", "nl", "us", "gb", "es", "it", "pl"])
STATUSES = np.array(["paid", "open", "cancelled", "refunded"])


def orders_table(rows: int, seed: int = 42, start: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 365 * 86400, rows).astype(
        "timedelta64[s]"
    )
    return pa.table(
        {
            "order_id": np.arange(start, start + rows, dtype=np.int64),
            "customer_id": rng.integers(1, 50_000, rows, dtype=np.int64),
            "country": COUNTRIES[rng.integers(0, len(COUNTRIES), rows)],
            "amount": np.round(rng.gamma(2.0, 60.0, rows), 2),
            "status": STATUSES[rng.choice(len(STATUSES), rows, p=[0.6, 0.25, 0.1, 0.05])],
            "ts": pa.array(ts, pa.timestamp("s")),
        }
    )


def write_orders(rows: int, out: Path, seed: int = 42, chunk: int = 1_000_000) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    first = orders_table(min(rows, chunk), seed)
    with pacsv.CSVWriter(out, first.schema) as writer:
        writer.write_table(first)
        done = first.num_rows
        while done < rows:
            table = orders_table(min(chunk, rows - done), seed + done, start=done + 1)
            writer.write_table(table)
            done += table.num_rows


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("orders.csv")
    write_orders(count, target)
    print(f"wrote {count} orders to {target}")
