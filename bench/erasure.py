"""Erasure benchmarks: purge throughput per format, and the fidelity of a Parquet rewrite.

* Parquet purge MB/s as a ratio to the *floor*: pyarrow reading and writing the same file with
  the same writer settings, row group by row group, without filtering (goal >= 0.7). Both are
  measured in this run, best of a few repetitions, on one Spark-like file.
* JSON lines and CSV purge MB/s (plain and gzip), against reading + writing the same records.
* Fidelity of the Spark-like file's rewrite: types, compression, row groups, metadata identical
  except the removed rows, and the size within 2 % of the original minus the removed share.
* Find by scan, per GB and per object (the subject-index lookup it should be compared with is
  not built yet: docs/erasure.md).
"""

from __future__ import annotations

import gzip
import time
from typing import Any

PARQUET_ROWS = 1_000_000
TEXT_ROWS = 200_000
REPEAT = 3


def _row(
    name: str, value: Any, unit: str, goal: str = "", note: str = "", ok: bool | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "value": value, "unit": unit, "goal": goal, "note": note}
    if ok is not None:
        row["ok"] = ok
    return row


def _best(fn: Any) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _parquet_floor(data: bytes) -> None:
    """Read and write every row group with the purge's own writer settings, filtering nothing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from meshkit.erasure.formats import parquet_writer_options

    pf = pq.ParquetFile(pa.BufferReader(data))
    sink = pa.BufferOutputStream()
    schema = pf.schema_arrow.remove_metadata()
    with pq.ParquetWriter(sink, schema, **parquet_writer_options(pf)) as w:
        for i in range(pf.metadata.num_row_groups):
            table = pf.read_row_group(i)
            w.write_table(table, row_group_size=table.num_rows)


def _fidelity(data: bytes, result: Any) -> tuple[bool, str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    before = pq.ParquetFile(pa.BufferReader(data))
    after = pq.ParquetFile(pa.BufferReader(result.data))
    problems = []
    if not before.schema.equals(after.schema):
        problems.append("Parquet schema")
    if not before.schema_arrow.equals(after.schema_arrow, check_metadata=True):
        problems.append("Arrow schema")
    if before.metadata.metadata != after.metadata.metadata:
        problems.append("key-value metadata")
    if before.metadata.num_row_groups != after.metadata.num_row_groups:
        problems.append("row groups")
    for g in range(min(before.metadata.num_row_groups, after.metadata.num_row_groups)):
        for c in range(before.metadata.num_columns):
            old = before.metadata.row_group(g).column(c).compression
            if old != after.metadata.row_group(g).column(c).compression:
                problems.append(f"compression of column {c}")
    expected = len(data) * (1 - result.rows_removed / result.rows_before)
    drift = (len(result.data) - expected) / expected * 100
    if abs(drift) > 2:
        problems.append(f"size {drift:+.2f} %")
    return not problems, ", ".join(problems) or "identical except the removed rows", drift


def run() -> list[dict[str, Any]]:
    from meshkit.erasure.formats import purge
    from meshkit.erasure.samples import customers_csv, customers_jsonl, spark_like_parquet
    from meshkit.erasure.subjects import matcher_for

    columns = {"customer_id": "customer_id", "email": "email"}
    # A subject with many rows (0.1 % of the file), found by id or e-mail.
    matcher = matcher_for([{"customer_id": "7"}, {"email": "customer9@example.com"}], columns)
    rows: list[dict[str, Any]] = []

    data = spark_like_parquet(PARQUET_ROWS, row_groups=4, customers=2000, seed=1)
    mb = len(data) / 1e6
    floor_s = _best(lambda: _parquet_floor(data))
    purge_s = _best(lambda: purge("orders.parquet", data, matcher))
    result = purge("orders.parquet", data, matcher)
    ratio = floor_s / purge_s
    rows.append(
        _row("erasure.parquet.purge", round(mb / purge_s, 1), "MB/s", note=f"{mb:.1f} MB file")
    )
    rows.append(_row("erasure.parquet.floor", round(mb / floor_s, 1), "MB/s", note="read+write"))
    rows.append(
        _row(
            "erasure.parquet.ratio_to_floor",
            round(ratio, 2),
            "x",
            goal=">= 0.7",
            note="same file, same writer settings, measured in this run",
            ok=ratio >= 0.7,
        )
    )
    ok, note, drift = _fidelity(data, result)
    rows.append(
        _row(
            "erasure.parquet.fidelity",
            round(drift, 2),
            "% size drift",
            goal="identical; size within 2 %",
            note=f"INT96, ZSTD, dictionary strings, decimal, 4 row groups, Spark metadata: {note}",
            ok=ok,
        )
    )

    from meshkit.erasure.formats import count_matches

    # Find by scan (the fallback; the subject index is not built yet): subject columns only.
    scan_s = _best(lambda: count_matches("orders.parquet", data, matcher))
    rows.append(
        _row(
            "erasure.find.scan.parquet",
            round(scan_s / (len(data) / 1e9), 2),
            "s/GB",
            note=f"{scan_s * 1000:.0f} ms for this {mb:.1f} MB object (subject columns only)",
        )
    )

    for name, make, key in (
        ("jsonl", customers_jsonl, "events.jsonl"),
        ("csv", customers_csv, "events.csv"),
    ):
        for gz in (False, True):
            blob = make(TEXT_ROWS, customers=2000, seed=2, gz=gz)
            object_key = key + (".gz" if gz else "")
            size = len(gzip.decompress(blob) if gz else blob) / 1e6
            seconds = _best(lambda b=blob, k=object_key: purge(k, b, matcher))
            rows.append(
                _row(
                    f"erasure.{name}{'.gz' if gz else ''}.purge",
                    round(size / seconds, 1),
                    "MB/s",
                    note=f"{size:.1f} MB uncompressed, {TEXT_ROWS} records",
                )
            )
    return rows


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r)
