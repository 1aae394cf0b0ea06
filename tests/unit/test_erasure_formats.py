"""The purge engine per format: only the subject's rows go, everything else stays as it was."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meshkit.erasure.formats import UnreadableObjectError, count_matches, detect_format, purge
from meshkit.erasure.samples import customers_csv, customers_jsonl, spark_like_parquet
from meshkit.erasure.subjects import keyed_hash, matcher_for

COLUMNS = {"customer_id": "customer_id", "email": "email"}


@pytest.fixture(scope="module")
def spark_file() -> bytes:
    return spark_like_parquet(20_000, row_groups=4, customers=200, seed=3)


def _pf(data: bytes) -> pq.ParquetFile:
    return pq.ParquetFile(pa.BufferReader(data))


def test_parquet_rewrite_keeps_types_compression_groups_and_metadata(spark_file: bytes) -> None:
    # GIVEN a Spark-like file and a subject known by id or by e-mail
    m = matcher_for([{"customer_id": "7"}, {"email": "customer9@example.com"}], COLUMNS)
    rows, matches = count_matches("o.parquet", spark_file, m)
    assert rows == 20_000
    assert matches > 0
    # WHEN it is purged
    result = purge("o.parquet", spark_file, m)
    assert result.data is not None
    before, after = _pf(spark_file), _pf(result.data)
    # THEN exactly the matching rows are gone, and the file is the same file otherwise
    assert (result.rows_before, result.rows_removed) == (20_000, matches)
    assert after.metadata.num_rows == 20_000 - matches
    assert count_matches("o.parquet", result.data, m) == (20_000 - matches, 0)
    assert before.schema.equals(after.schema)  # physical + logical types, INT96 included
    assert after.schema.column(5).physical_type == "INT96"
    assert before.schema_arrow.equals(after.schema_arrow, check_metadata=True)
    assert before.metadata.metadata == after.metadata.metadata
    assert before.metadata.format_version == after.metadata.format_version
    assert after.metadata.num_row_groups == before.metadata.num_row_groups
    for g in range(before.metadata.num_row_groups):
        old, new = before.metadata.row_group(g), after.metadata.row_group(g)
        assert new.num_rows <= old.num_rows
        for c in range(old.num_columns):
            assert new.column(c).compression == old.column(c).compression == "ZSTD"
    # The kept rows are bit-identical, nanoseconds of the INT96 timestamps included.
    kept = before.read().filter(
        pa.compute.invert(
            pa.compute.or_(
                pa.compute.equal(before.read().column("customer_id"), 7),
                pa.compute.equal(before.read().column("email"), "customer9@example.com"),
            )
        )
    )
    assert after.read().equals(kept)
    expected = len(spark_file) * (1 - matches / 20_000)
    assert abs(len(result.data) - expected) / expected < 0.02


def test_parquet_with_arrow_schema_keeps_dictionary_type() -> None:
    data = spark_like_parquet(4_000, row_groups=2, customers=50, arrow_schema=True)
    result = purge("o.parquet", data, matcher_for([{"customer_id": "3"}], COLUMNS))
    assert result.data is not None
    assert result.rows_removed > 0
    before, after = _pf(data), _pf(result.data)
    assert pa.types.is_dictionary(after.schema_arrow.field("country").type)
    assert before.schema_arrow.equals(after.schema_arrow, check_metadata=True)
    assert set(before.metadata.metadata) == set(after.metadata.metadata)


def test_a_row_group_of_only_the_subject_disappears() -> None:
    table = pa.table({"customer_id": [1, 1, 2, 3], "v": ["a", "b", "c", "d"]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=2)
    result = purge(
        "o.parquet", sink.getvalue().to_pybytes(), matcher_for([{"customer_id": "1"}], COLUMNS)
    )
    assert result.data is not None
    assert (result.row_groups_before, result.row_groups_after) == (2, 1)
    assert _pf(result.data).read().column("v").to_pylist() == ["c", "d"]


def test_composite_key_needs_every_column() -> None:
    table = pa.table({"first": ["ada", "ada", "bob"], "born": ["1815", "1900", "1815"]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    m = matcher_for(
        [{"first_name": "ada", "birth": "1815"}], {"first_name": "first", "birth": "born"}
    )
    assert count_matches("o.parquet", sink.getvalue().to_pybytes(), m) == (3, 1)
    # a key naming an identifier the table does not map does not apply at all
    assert not matcher_for([{"first_name": "ada", "phone": "1"}], {"first_name": "first"})


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_keeps_every_other_line_byte_for_byte(gz: bool) -> None:
    data = customers_jsonl(500, customers=40, seed=1, gz=gz)
    m = matcher_for([{"customer_id": "5"}], COLUMNS)
    result = purge("e.jsonl.gz" if gz else "e.jsonl", data, m)
    assert result.data is not None
    assert result.rows_removed > 0
    plain_before = gzip.decompress(data) if gz else data
    plain_after = gzip.decompress(result.data) if gz else result.data
    expected = [
        line
        for line in plain_before.decode().splitlines(keepends=True)
        if json.loads(line)["customer_id"] != 5
    ]
    assert plain_after.decode() == "".join(expected)
    if gz:
        assert result.data[4:8] == data[4:8]  # the gzip header's mtime is kept


@pytest.mark.parametrize(("gz", "delimiter"), [(False, ","), (True, ","), (False, ";")])
def test_csv_keeps_header_delimiter_quoting_and_line_endings(gz: bool, delimiter: str) -> None:
    data = customers_csv(300, customers=30, seed=2, gz=gz, delimiter=delimiter)
    m = matcher_for([{"email": "customer4@example.com"}], COLUMNS)
    key = "c.csv.gz" if gz else "c.csv"
    rows, matches = count_matches(key, data, m)
    assert rows == 300
    assert matches > 0
    result = purge(key, data, m)
    assert result.data is not None
    text = (gzip.decompress(result.data) if gz else result.data).decode()
    source = (gzip.decompress(data) if gz else data).decode()
    assert text.startswith(source.split("\r\n", 1)[0] + "\r\n")  # the header, as it was
    assert "customer4@example.com" not in text
    assert text.count('"line one') == source.count('"line one') - sum(
        1
        for i, line in enumerate(source.split("\r\n")[1:])
        if "customer4@example.com" in line and '"line one' in line
    )
    assert "\r\n" in text
    assert "\n\n" not in text
    assert count_matches(key, result.data, m) == (300 - matches, 0)


def test_no_match_means_no_rewrite(spark_file: bytes) -> None:
    result = purge("o.parquet", spark_file, matcher_for([{"customer_id": "999999"}], COLUMNS))
    assert result.data is None
    assert result.rows_removed == 0


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("x.parquet", b"PAR1 truncated", "truncated Parquet"),
        ("x.parquet", b"hello", "named Parquet"),
        ("x.bin", b"\x00\x01", "unknown format"),
        ("x.jsonl", b'{"a": 1}\nnot json 1\n', "line 2 is not JSON"),
        ("x.csv.gz", b"\x1f\x8bnot gzip at all", "corrupt gzip"),
    ],
)
def test_poison_objects_are_named(key: str, data: bytes, message: str) -> None:
    m = matcher_for([{"customer_id": "1"}], COLUMNS)
    with pytest.raises(UnreadableObjectError, match=message):
        purge(key, data, m)


def test_detect_format_reads_bytes_before_names() -> None:
    assert detect_format("misnamed.csv", spark_like_parquet(10, row_groups=1)) == ("parquet", False)
    assert detect_format("a.json.gz", gzip.compress(b"{}\n")) == ("jsonl", True)


def test_keyed_hash_is_stable_and_hides_the_values() -> None:
    keys = [{"email": "a@example.com"}, {"customer_id": "7"}]
    h = keyed_hash("secret", keys)
    assert h == keyed_hash("secret", list(reversed(keys)))
    assert h != keyed_hash("other", keys)
    assert "a@example.com" not in h
    assert h.startswith("hmac-sha256:")
