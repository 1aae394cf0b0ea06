"""Reading data objects from (moto's) S3 with pyarrow, and Arrow <-> Glue/Hive type mapping."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "SERDE",
    "DataObject",
    "ObjectUnreadable",
    "arrow_to_hive",
    "detect_format",
    "hive_to_arrow",
    "list_objects",
    "read_object",
    "split_location",
    "unify",
]

#: What a Glue crawler writes into StorageDescriptor for each classification.
SERDE: dict[str, dict[str, Any]] = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "Parameters": {"serialization.format": "1"},
        },
    },
    "csv": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": ","},
        },
    },
    "json": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
            "Parameters": {"paths": ""},
        },
    },
}

_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


class ObjectUnreadable(Exception):
    """An object the crawler or the query engine cannot parse; the message names it."""


@dataclass(frozen=True)
class DataObject:
    """One data object under a table location."""

    bucket: str
    key: str
    #: Folders between the location and the object (Hive partitions: ``k=v``).
    folders: tuple[str, ...]
    size: int

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def split_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> (bucket, ``prefix/``)."""
    if not location.startswith(("s3://", "s3a://")):
        raise ObjectUnreadable(f"Location {location!r} is not an S3 URI (s3://bucket/prefix/).")
    path = location.split("://", 1)[1]
    bucket, _, prefix = path.partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def list_objects(s3: Any, location: str) -> list[DataObject]:
    """Data objects under a location, skipping folders markers and hidden files as Glue does."""
    bucket, prefix = split_location(location)
    found: list[DataObject] = []
    try:
        pages: Iterator[dict[str, Any]] = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = str(item["Key"])
                relative = key[len(prefix) :]
                parts = relative.split("/")
                name = parts[-1]
                if not name or name.startswith(("_", ".")) or name.endswith("$folder$"):
                    continue
                found.append(DataObject(bucket, key, tuple(parts[:-1]), int(item["Size"])))
    except s3.exceptions.NoSuchBucket as exc:
        raise ObjectUnreadable(f"Location {location} does not exist (no such bucket).") from exc
    return sorted(found, key=lambda o: o.key)


def detect_format(key: str, data: bytes) -> str:
    """parquet, csv or json: by extension, else by content."""
    lowered = key.lower()
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    if data[:4] == b"PAR1":
        return "parquet"
    if data.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


def read_object(obj: DataObject, data: bytes, fmt: str | None = None) -> pa.Table:
    """Parse one object into an Arrow table, or raise ObjectUnreadable naming it."""
    fmt = fmt or detect_format(obj.key, data)
    try:
        if fmt == "parquet":
            return pq.read_table(io.BytesIO(data))
        if fmt == "json":
            return pa_json.read_json(io.BytesIO(data))
        if fmt == "csv":
            return pa_csv.read_csv(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ObjectUnreadable(f"Unable to read {obj.uri} as {fmt}: {exc}") from exc
    raise ObjectUnreadable(f"Unable to read {obj.uri}: unsupported format {fmt!r}.")


_INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]


def unify(left: pa.DataType, right: pa.DataType) -> pa.DataType:
    """The narrowest type both values fit (what a crawler does across files)."""
    if left == right:
        return left
    if pa.types.is_null(left):
        return right
    if pa.types.is_null(right):
        return left
    if pa.types.is_integer(left) and pa.types.is_integer(right):
        return pa.int64()
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    if any(f(left) for f in numeric) and any(f(right) for f in numeric):
        return pa.float64()
    return pa.string()


def arrow_to_hive(dtype: pa.DataType) -> str:
    """The Glue/Hive column type for an Arrow type."""
    simple: list[tuple[Any, str]] = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"),
        (pa.types.is_uint32, "bigint"),
        (pa.types.is_uint64, "decimal(20,0)"),
        (pa.types.is_float16, "float"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_binary, "binary"),
        (pa.types.is_large_binary, "binary"),
        (pa.types.is_fixed_size_binary, "binary"),
    ]
    for check, name in simple:
        if check(dtype):
            return name
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"array<{arrow_to_hive(dtype.value_type)}>"
    if pa.types.is_struct(dtype):
        fields = ",".join(f"{f.name}:{arrow_to_hive(f.type)}" for f in dtype)
        return f"struct<{fields}>"
    if pa.types.is_map(dtype):
        return f"map<{arrow_to_hive(dtype.key_type)},{arrow_to_hive(dtype.item_type)}>"
    # Strings, JSON nulls, times and anything else a crawler would classify as text.
    return "string"


_HIVE_SIMPLE = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "string": pa.string(),
}


def hive_to_arrow(hive: str) -> pa.DataType | None:
    """Arrow type for a simple Hive type (partition values); None for complex ones."""
    return _HIVE_SIMPLE.get(hive.strip().lower())
