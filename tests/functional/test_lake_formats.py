"""Type mapping, schema widening and name parsing the crawler and query engine rely on."""

from __future__ import annotations

import pyarrow as pa
import pytest

from meshkit.local.lake.formats import arrow_to_hive, detect_format, split_location, unify
from meshkit.local.lake.query import split_qualified_name


@pytest.mark.parametrize(
    ("arrow", "hive"),
    [
        (pa.bool_(), "boolean"),
        (pa.int8(), "tinyint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.uint64(), "decimal(20,0)"),
        (pa.float32(), "float"),
        (pa.float64(), "double"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.string(), "string"),
        (pa.null(), "string"),
        (pa.date32(), "date"),
        (pa.timestamp("ms", tz="UTC"), "timestamp"),
        (pa.binary(), "binary"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.struct([("a", pa.string()), ("b", pa.float64())]), "struct<a:string,b:double>"),
        (pa.map_(pa.string(), pa.int32()), "map<string,int>"),
    ],
)
def test_arrow_types_map_to_glue_types(arrow: pa.DataType, hive: str) -> None:
    assert arrow_to_hive(arrow) == hive


@pytest.mark.parametrize(
    ("left", "right", "widened"),
    [
        (pa.int32(), pa.int64(), pa.int64()),
        (pa.int64(), pa.float64(), pa.float64()),
        (pa.null(), pa.string(), pa.string()),
        (pa.int64(), pa.string(), pa.string()),
        (pa.date32(), pa.date32(), pa.date32()),
    ],
)
def test_types_widen_across_files(
    left: pa.DataType, right: pa.DataType, widened: pa.DataType
) -> None:
    assert unify(left, right) == widened
    assert unify(right, left) == widened


@pytest.mark.parametrize(
    ("key", "data", "fmt"),
    [
        ("a/b.parquet", b"", "parquet"),
        ("a/b.CSV", b"", "csv"),
        ("a/b.ndjson", b"", "json"),
        ("a/noext", b"PAR1....PAR1", "parquet"),
        ("a/noext", b'  {"a": 1}\n', "json"),
        ("a/noext", b"a,b\n1,2\n", "csv"),
    ],
)
def test_formats_are_detected_by_extension_then_content(key: str, data: bytes, fmt: str) -> None:
    assert detect_format(key, data) == fmt


def test_locations_and_qualified_names_split() -> None:
    assert split_location("s3://bucket/a/b") == ("bucket", "a/b/")
    assert split_location("s3://bucket") == ("bucket", "")
    assert split_qualified_name('"my ""db""".t') == ['my "db"', "t"]
    assert split_qualified_name("a.b.c") == ["a", "b", "c"]
