"""Generated sample data for the demo: orders with a personal-data column, and daily revenue."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from typing import Any

from meshkit.events.products import Column, TableSchema

__all__ = ["add_crawled_column", "daily_revenue_csv", "orders_parquet"]


def orders_parquet(day: date, rows: int, *, seed: int) -> bytes:
    """One day of web-shop orders as Parquet; ``email`` is personal data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    table = pa.table(
        {
            "order_id": pa.array([seed * 100_000 + i for i in range(rows)], pa.int64()),
            "customer_id": pa.array([rng.randint(1, 500) for _ in range(rows)], pa.int32()),
            "email": [f"customer{rng.randint(1, 500)}@example.com" for _ in range(rows)],
            "amount": pa.array([round(rng.uniform(5, 400), 2) for _ in range(rows)], pa.float64()),
            "ordered_at": pa.array(
                [
                    f"{day.isoformat()}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
                    for _ in range(rows)
                ]
            ),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def daily_revenue_csv(start: date, days: int, *, seed: int) -> bytes:
    """Aggregated revenue per day and channel: no personal data."""
    rng = random.Random(seed)
    lines = ["day,channel,orders,revenue"]
    for offset in range(days):
        day = start + timedelta(days=offset)
        for channel in ("web", "app", "store"):
            orders = rng.randint(20, 200)
            lines.append(f"{day.isoformat()},{channel},{orders},{orders * rng.uniform(30, 90):.2f}")
    return ("\n".join(lines) + "\n").encode()


def add_crawled_column(
    glue: Any, database: str, table: TableSchema, name: str, type_: str = "string"
) -> TableSchema:
    """Add a column to a catalog table as the crawler would write it (``glue`` is a client of
    the catalog's account); returns the table's schema as the crawler's event reports it."""
    current = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
    sd = dict(current["StorageDescriptor"])
    sd["Columns"] = [*sd["Columns"], {"Name": name, "Type": type_}]
    glue.update_table(
        DatabaseName=database,
        TableInput={
            "Name": table.name,
            "StorageDescriptor": sd,
            "PartitionKeys": current.get("PartitionKeys", []),
            "Parameters": current.get("Parameters", {}),
        },
    )
    column = Column(name=name, type=type_)
    return table.model_copy(update={"columns": [*table.columns, column]})
