"""Sample objects for the erasure tests, the demo and the benchmark: a Spark-like Parquet file,
JSON lines and CSV, each with a ``customer_id`` and an ``email`` the subject can be found by."""

from __future__ import annotations

import gzip
import io
import json
import random
from datetime import UTC, datetime, timedelta

from meshkit._extras import needs

__all__ = ["customers_csv", "customers_jsonl", "spark_like_parquet"]

#: What Spark writes into every Parquet file's key-value metadata (shortened).
SPARK_ROW_METADATA = "org.apache.spark.sql.parquet.row.metadata"


def spark_like_parquet(
    rows: int,
    *,
    row_groups: int = 4,
    customers: int = 1000,
    seed: int = 0,
    arrow_schema: bool = False,
    first_customer: int = 1,
) -> bytes:
    """INT96 nanosecond timestamps, ZSTD, dictionary-encoded strings, decimal(10,2), several
    row groups and Spark's key-value metadata, as a Spark job writes them."""
    import decimal

    with needs("erasure", "The Parquet samples"):
        import pyarrow as pa
        import pyarrow.parquet as pq

    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    countries = ["DE", "FR", "NL", "IT", "ES", "PL", "SE"]
    customer = [rng.randint(first_customer, first_customer + customers - 1) for _ in range(rows)]
    table = pa.table(
        {
            "order_id": pa.array(range(seed * 10_000_000, seed * 10_000_000 + rows), pa.int64()),
            "customer_id": pa.array(customer, pa.int64()),
            "email": pa.array([f"customer{c}@example.com" for c in customer], pa.string()),
            "country": pa.array([rng.choice(countries) for _ in range(rows)]).dictionary_encode(),
            "amount": pa.array(
                [decimal.Decimal(rng.randint(100, 99_999)) / 100 for _ in range(rows)],
                pa.decimal128(10, 2),
            ),
            "ordered_at": pa.array(
                [
                    base
                    + timedelta(seconds=rng.randint(0, 10**7), microseconds=rng.randint(0, 999))
                    for _ in range(rows)
                ],
                pa.timestamp("ns"),
            ),
        }
    )
    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink,
        table.schema,
        compression="zstd",
        use_deprecated_int96_timestamps=True,
        store_schema=arrow_schema,
    ) as writer:
        writer.write_table(table, row_group_size=max(1, -(-rows // row_groups)))
        writer.add_key_value_metadata(
            {
                SPARK_ROW_METADATA: json.dumps({"type": "struct", "fields": []}),
                "org.apache.spark.version": "3.5.1",
            }
        )
    return sink.getvalue()


def customers_jsonl(rows: int, *, customers: int = 100, seed: int = 0, gz: bool = False) -> bytes:
    rng = random.Random(seed)
    lines = []
    for i in range(rows):
        c = rng.randint(1, customers)
        lines.append(
            json.dumps(
                {"event_id": i, "customer_id": c, "email": f"customer{c}@example.com", "n": i % 7}
            )
        )
    data = ("\n".join(lines) + "\n").encode()
    return gzip.compress(data, mtime=1_700_000_000) if gz else data


def customers_csv(
    rows: int, *, customers: int = 100, seed: int = 0, gz: bool = False, delimiter: str = ","
) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write(delimiter.join(["event_id", "customer_id", "email", "note"]) + "\r\n")
    for i in range(rows):
        c = rng.randint(1, customers)
        # Every tenth note is quoted and spans two lines: a record is not a line.
        note = f'"line one{delimiter} and\r\nline two"' if i % 10 == 0 else f"note {i}"
        out.write(delimiter.join([str(i), str(c), f"customer{c}@example.com", note]) + "\r\n")
    data = out.getvalue().encode()
    return gzip.compress(data, mtime=1_700_000_000) if gz else data
