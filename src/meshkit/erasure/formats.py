"""The purge engine per file format: count a subject's rows in an object, and rewrite the object
without them, leaving every other byte of meaning as it was.

* **Parquet** is rewritten row group by row group (a group that loses no row is rewritten the
  same way): physical and logical types (INT96 included), per-column compression, the Parquet
  format version, row-group boundaries, the key-value metadata and the stored Arrow schema
  (dictionary types) are taken from the source file (recipe and measurements:
  shared/research/next-capabilities.md §B.2). Not preserved: ``created_by``, page layout and
  encodings other than dictionary/plain, compression *levels* (Parquet does not record them).
  A row group whose every row is the subject's disappears.
* **JSON lines** and **CSV** are filtered record by record on the raw text: a kept record keeps
  its exact bytes (line endings, quoting, spacing, the header), so only removed records change.
  CSV's delimiter is sniffed from the header (``, ; TAB |``); quoted fields spanning lines are one
  record. gzip (detected by its magic bytes, not the name) is decompressed and written back with
  the source's header mtime.

pyarrow is imported inside the Parquet functions only: the handlers import this module without
it (on Lambda it comes from a layer, see docs/erasure.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from meshkit._extras import needs

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meshkit.erasure.subjects import Matcher

__all__ = [
    "Format",
    "PurgeResult",
    "UnreadableObjectError",
    "count_matches",
    "detect_format",
    "distinct_values",
    "purge",
]

Format = Literal["parquet", "jsonl", "csv"]

_GZIP_MAGIC = b"\x1f\x8b"


class UnreadableObjectError(ValueError):
    """The object is not a file of a format the purge engine reads (a poison object)."""


@dataclass(frozen=True)
class PurgeResult:
    """A rewritten object and what changed; ``data`` is None when no row matched."""

    format: Format
    gzip: bool
    rows_before: int
    rows_removed: int
    data: bytes | None
    row_groups_before: int = 0
    row_groups_after: int = 0

    @property
    def rows_after(self) -> int:
        return self.rows_before - self.rows_removed


def detect_format(key: str, data: bytes) -> tuple[Format, bool]:
    """(format, gzip) from the bytes first, the name second."""
    gz = data[:2] == _GZIP_MAGIC
    name = key.lower().removesuffix(".gz").removesuffix(".gzip")
    if not gz and data[:4] == b"PAR1" and data[-4:] == b"PAR1":
        return "parquet", False
    if data[:4] == b"PAR1":
        raise UnreadableObjectError(f"{key}: truncated Parquet file (no footer)")
    if name.endswith((".parquet", ".parq")):
        raise UnreadableObjectError(f"{key}: named Parquet but not a Parquet file")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl", gz
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv", gz
    raise UnreadableObjectError(
        f"{key}: unknown format; the purge engine reads Parquet, JSON lines "
        "(.jsonl/.ndjson/.json) and CSV (.csv/.tsv), plain or gzip"
    )


def _gunzip(key: str, data: bytes) -> tuple[bytes, int]:
    try:
        mtime = struct.unpack("<I", data[4:8])[0] if len(data) >= 8 else 0
        return gzip.decompress(data), mtime
    except (OSError, EOFError) as exc:
        raise UnreadableObjectError(f"{key}: corrupt gzip stream ({exc})") from exc


def _text(key: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableObjectError(f"{key}: not UTF-8 text ({exc})") from exc


# -- Parquet ---------------------------------------------------------------------------------
def _parquet_mask(table: Any, matcher: Matcher) -> Any:
    """Boolean array: the rows of ``table`` that are the subject's."""
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow as pa
        import pyarrow.compute as pc

    mask = None
    for g in matcher.groups:
        if not all(c in table.column_names for c in g.columns):
            continue
        group_mask = None
        if len(g.columns) == 1:
            group_mask = _is_in(table.column(g.columns[0]), [v[0] for v in g.values])
        else:
            for values in g.values:
                one = None
                for column, value in zip(g.columns, values, strict=True):
                    eq = _is_in(table.column(column), [value])
                    one = eq if one is None else pc.and_(one, eq)
                group_mask = one if group_mask is None else pc.or_(group_mask, one)
        if group_mask is not None:
            mask = group_mask if mask is None else pc.or_(mask, group_mask)
    if mask is None:
        return pa.array([False] * table.num_rows, pa.bool_())
    return pc.fill_null(mask, False)


def _is_in(column: Any, values: list[str]) -> Any:
    """``pyarrow.compute.is_in`` with the match values in the column's own type when they cast
    (the fast path: no cast of the data), else comparing the column as text."""
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow as pa
        import pyarrow.compute as pc

    typ = column.type
    value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
    try:
        value_set = pa.array(values, pa.string()).cast(value_type)
        if pa.types.is_floating(value_type) or pa.types.is_temporal(value_type):
            raise pa.ArrowInvalid("compare floats and times as text")
        return pc.is_in(column, value_set=value_set)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pc.is_in(pc.cast(column, pa.string()), value_set=pa.array(values, pa.string()))


def _true_count(mask: Any) -> int:
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow.compute as pc

    return int(pc.sum(mask).as_py() or 0)


def _parquet_file(key: str, data: bytes) -> Any:
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"{key}: unreadable Parquet file ({exc})") from exc


def _count_parquet(key: str, data: bytes, matcher: Matcher) -> tuple[int, int]:
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow as pa

    pf = _parquet_file(key, data)
    rows = pf.metadata.num_rows
    columns = [c for c in matcher.columns if c in pf.schema_arrow.names]
    if not columns:
        return rows, 0
    try:
        table = pf.read(columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"{key}: unreadable Parquet data ({exc})") from exc
    return rows, _true_count(_parquet_mask(table, matcher))


def parquet_writer_options(pf: Any) -> dict[str, Any]:
    """ParquetWriter options that reproduce the source file's physical layout (§B.2)."""
    md = pf.metadata
    kv = md.metadata or {}
    compression: dict[str, str] = {}
    int96 = False
    for i in range(md.num_columns):
        column = md.schema.column(i)
        if column.physical_type == "INT96":
            int96 = True
        if md.num_row_groups:
            codec = md.row_group(0).column(i).compression
            compression[column.path] = "NONE" if codec == "UNCOMPRESSED" else codec
    options: dict[str, Any] = {
        "version": md.format_version,
        "compression": compression or "snappy",
        "use_deprecated_int96_timestamps": int96,
        "store_schema": b"ARROW:schema" in kv,
    }
    if int96:
        # INT96 holds nanoseconds; without this pyarrow would coerce to the version's unit.
        options["coerce_timestamps"] = None
    return options


def _purge_parquet(key: str, data: bytes, matcher: Matcher) -> PurgeResult:
    with needs("erasure", "Erasing from Parquet"):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

    pf = _parquet_file(key, data)
    md = pf.metadata
    groups = md.num_row_groups
    columns = [c for c in matcher.columns if c in pf.schema_arrow.names]
    masks: list[Any] = []
    removed = 0
    try:
        for i in range(groups):
            if not columns:
                break
            mask = _parquet_mask(pf.read_row_group(i, columns=columns), matcher)
            masks.append(mask)
            removed += _true_count(mask)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"{key}: unreadable Parquet data ({exc})") from exc
    if removed == 0:
        return PurgeResult("parquet", False, md.num_rows, 0, None, groups, groups)
    schema = pf.schema_arrow
    kv = dict(md.metadata or {})
    kv.pop(b"ARROW:schema", None)
    sink = pa.BufferOutputStream()
    # The writer writes schema.metadata itself; the file's own key-value pairs are set once.
    writer = pq.ParquetWriter(sink, schema.remove_metadata(), **parquet_writer_options(pf))
    kept_groups = 0
    try:
        for i in range(groups):
            table = pf.read_row_group(i)
            if _true_count(masks[i]):
                table = table.filter(pc.invert(masks[i]))
            if table.num_rows == 0:
                continue
            writer.write_table(table, row_group_size=table.num_rows)
            kept_groups += 1
        if kv:
            writer.add_key_value_metadata({k.decode(): v.decode() for k, v in kv.items()})
    finally:
        writer.close()
    return PurgeResult(
        "parquet",
        False,
        md.num_rows,
        removed,
        sink.getvalue().to_pybytes(),
        groups,
        kept_groups,
    )


# -- JSON lines and CSV ----------------------------------------------------------------------
def _lines(text: str) -> Iterator[str]:
    """Lines with their endings, as written (``\\n``, ``\\r\\n`` or a last line without)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _needles(matcher: Matcher) -> list[str] | None:
    """Texts one of which a matching record's raw line must contain, or None when a value could
    be written escaped (quotes, backslashes, non-ASCII) and the shortcut would be unsafe."""
    needles = {v for g in matcher.groups for values in g.values for v in values}
    if not needles or any(
        not v.isascii() or not v.isprintable() or any(c in v for c in '"\\') for v in needles
    ):
        return None
    return sorted(needles)


def _filter_jsonl(key: str, text: str, matcher: Matcher) -> tuple[int, int, list[str]]:
    kept: list[str] = []
    rows = removed = 0
    needles = _needles(matcher)
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            kept.append(line)
            continue
        if needles is not None and not any(n in line for n in needles):
            # Cannot match: kept without parsing (still counted as a record).
            rows += 1
            kept.append(line)
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UnreadableObjectError(f"{key}: line {number} is not JSON ({exc})") from exc
        rows += 1
        if isinstance(record, dict) and matcher.matches(record):
            removed += 1
        else:
            kept.append(line)
    return rows, removed, kept


def _csv_dialect(header: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _filter_csv(key: str, text: str, matcher: Matcher) -> tuple[int, int, list[str]]:
    raw: list[str] = []
    lines = _lines(text)

    def feed() -> Iterator[str]:
        for line in lines:
            raw.append(line)
            yield line

    first = text[: text.find("\n")] if "\n" in text else text
    reader = csv.reader(feed(), _csv_dialect(first))
    kept: list[str] = []
    rows = removed = 0
    try:
        header = next(reader, None)
        if header is None:
            return 0, 0, list(raw)
        kept.extend(raw)
        raw.clear()
        for record in reader:
            chunk = "".join(raw)
            raw.clear()
            if not record:
                kept.append(chunk)
                continue
            rows += 1
            if matcher.matches(dict(zip(header, record, strict=False))):
                removed += 1
            else:
                kept.append(chunk)
    except csv.Error as exc:
        raise UnreadableObjectError(f"{key}: malformed CSV ({exc})") from exc
    kept.extend(raw)
    return rows, removed, kept


def _text_filter(fmt: Format) -> Any:
    return _filter_jsonl if fmt == "jsonl" else _filter_csv


# -- entry points ----------------------------------------------------------------------------
def count_matches(key: str, data: bytes, matcher: Matcher) -> tuple[int, int]:
    """(rows in the object, rows that are the subject's): the find and the verification."""
    fmt, gz = detect_format(key, data)
    if fmt == "parquet":
        return _count_parquet(key, data, matcher)
    body = _gunzip(key, data)[0] if gz else data
    rows, removed, _kept = _text_filter(fmt)(key, _text(key, body), matcher)
    return rows, removed


def _parquet_values(
    key: str, data: bytes, columns: list[str]
) -> tuple[int, dict[str, Counter[str]]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    pf = _parquet_file(key, data)
    present = [c for c in columns if c in pf.schema_arrow.names]
    out: dict[str, Counter[str]] = {c: Counter() for c in present}
    if not present:
        return pf.metadata.num_rows, out
    try:
        table = pf.read(columns=present)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"{key}: unreadable Parquet data ({exc})") from exc
    for column in present:
        values = table.column(column)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        counted = pc.value_counts(pc.cast(values, pa.string()))
        for item in counted.to_pylist():
            if item["values"] is not None:
                out[column][item["values"]] += int(item["counts"])
    return table.num_rows, out


def _text_values(
    key: str, fmt: Format, text: str, columns: list[str]
) -> tuple[int, dict[str, Counter[str]]]:
    from meshkit.erasure.subjects import canonical_text

    out: dict[str, Counter[str]] = {c: Counter() for c in columns}
    rows = 0
    records: Iterator[dict[str, Any]]
    if fmt == "jsonl":

        def parsed() -> Iterator[dict[str, Any]]:
            for number, line in enumerate(_lines(text), start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise UnreadableObjectError(
                        f"{key}: line {number} is not JSON ({exc})"
                    ) from exc
                yield record if isinstance(record, dict) else {}

        records = parsed()
    else:
        first = text[: text.find("\n")] if "\n" in text else text
        reader = csv.reader(io.StringIO(text, newline=""), _csv_dialect(first))
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise UnreadableObjectError(f"{key}: malformed CSV ({exc})") from exc
        if header is None:
            return 0, out

        def rows_of() -> Iterator[dict[str, Any]]:
            try:
                for record in reader:
                    if record:
                        yield dict(zip(header, record, strict=False))
            except csv.Error as exc:
                raise UnreadableObjectError(f"{key}: malformed CSV ({exc})") from exc

        records = rows_of()
    for record in records:
        rows += 1
        for column in columns:
            value = canonical_text(record.get(column))
            if value is not None:
                out[column][value] += 1
    return rows, out


def distinct_values(
    key: str, data: bytes, columns: list[str]
) -> tuple[int, dict[str, Counter[str]]]:
    """(rows, column -> value -> rows) of ``columns``: what the subject index keeps, hashed."""
    fmt, gz = detect_format(key, data)
    if fmt == "parquet":
        return _parquet_values(key, data, columns)
    body = _gunzip(key, data)[0] if gz else data
    return _text_values(key, fmt, _text(key, body), columns)


def purge(key: str, data: bytes, matcher: Matcher) -> PurgeResult:
    """The object rewritten without the subject's rows (``data`` None: nothing to remove)."""
    fmt, gz = detect_format(key, data)
    if fmt == "parquet":
        return _purge_parquet(key, data, matcher)
    mtime = 0
    body = data
    if gz:
        body, mtime = _gunzip(key, data)
    rows, removed, kept = _text_filter(fmt)(key, _text(key, body), matcher)
    if removed == 0:
        return PurgeResult(fmt, gz, rows, 0, None)
    out = "".join(kept).encode("utf-8")
    if gz:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime) as f:
            f.write(out)
        out = buffer.getvalue()
    return PurgeResult(fmt, gz, rows, removed, out)
