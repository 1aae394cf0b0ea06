"""Validation of a partner's upload before it may reach a data product: format, size, columns.

Pure Python (``csv``, ``json``): it runs in the drop-zone handler in Lambda without pyarrow.
CSV and JSON Lines are read in full and checked row by row; Parquet is checked for its framing
only (the ``PAR1`` magic at both ends and a footer length that fits), because reading its schema
needs a Thrift decoder meshkit does not ship to Lambda: a Parquet upload with wrong columns is
caught by the product's crawl (``ProductSchemaUpdated`` shows the columns), not here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "COLUMN_TYPES",
    "FORMATS",
    "Checked",
    "ColumnRule",
    "UploadInvalid",
    "validate_upload",
]

Format = Literal["csv", "json", "parquet"]
#: Upload formats a drop zone accepts (``json`` is JSON Lines: one object per line).
FORMATS: tuple[Format, ...] = ("csv", "json", "parquet")
_EXTENSIONS: dict[Format, tuple[str, ...]] = {
    "csv": (".csv",),
    "json": (".json", ".jsonl", ".ndjson"),
    "parquet": (".parquet", ".pq"),
}


class UploadInvalid(ValueError):
    """The upload breaks a rule; ``reason`` is the rule (format, size, schema), the message
    says exactly where."""

    def __init__(self, reason: Literal["format", "size", "schema"], message: str) -> None:
        self.reason = reason
        super().__init__(message)


def _is_int(value: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", value) is not None


def _is_double(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_bool(value: str) -> bool:
    return value.lower() in ("true", "false")


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


#: Column types a drop zone checks (Hive/Glue names, as the crawler writes them), as text.
COLUMN_TYPES: dict[str, Callable[[str], bool]] = {
    "string": lambda _v: True,
    "int": _is_int,
    "bigint": _is_int,
    "double": _is_double,
    "boolean": _is_bool,
    "date": _is_date,
    "timestamp": _is_timestamp,
}


@dataclass(frozen=True)
class ColumnRule:
    """One expected column: its name and (Hive) type; empty values are nulls and allowed."""

    name: str
    type: str = "string"

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(
                f"column {self.name!r}: type {self.type!r} is not one of {sorted(COLUMN_TYPES)}"
            )


@dataclass(frozen=True)
class Checked:
    """A valid upload: its format and the number of data rows (0 for Parquet: not read)."""

    format: Format
    rows: int


def _json_matches(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind in ("int", "bigint"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str) and COLUMN_TYPES[kind](value)


def _check_csv(text: str, columns: Sequence[ColumnRule]) -> int:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise UploadInvalid("format", "line 1: a CSV upload needs a header line")
        if len(set(header)) != len(header):
            raise UploadInvalid("format", f"line 1: the header repeats a column: {header}")
        if columns:
            expected = [c.name for c in columns]
            if header != expected:
                missing = [c for c in expected if c not in header]
                extra = [h for h in header if h not in expected]
                detail = (
                    f"missing {missing}" if missing else f"unexpected {extra}" if extra else "order"
                )
                raise UploadInvalid(
                    "schema",
                    f"line 1: the header {header} is not the expected {expected} ({detail})",
                )
        rows = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise UploadInvalid(
                    "format", f"line {line}: {len(row)} fields, the header has {len(header)}"
                )
            rows += 1
            for rule, value in zip(columns, row, strict=False):
                if value != "" and not COLUMN_TYPES[rule.type](value):
                    raise UploadInvalid(
                        "schema", f"line {line}: column {rule.name!r} is {rule.type}, not {value!r}"
                    )
    except csv.Error as exc:
        raise UploadInvalid("format", f"line {reader.line_num}: not valid CSV: {exc}") from exc
    return rows


def _check_json_lines(text: str, columns: Sequence[ColumnRule]) -> int:
    rows = 0
    names = {c.name for c in columns}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UploadInvalid("format", f"line {number}: not JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise UploadInvalid("format", f"line {number}: a JSON Lines record must be an object")
        rows += 1
        if not columns:
            continue
        missing = [c.name for c in columns if c.name not in record]
        if missing:
            raise UploadInvalid("schema", f"line {number}: the record lacks {missing}")
        extra = sorted(set(record) - names)
        if extra:
            raise UploadInvalid("schema", f"line {number}: unexpected fields {extra}")
        for rule in columns:
            if not _json_matches(rule.type, record[rule.name]):
                raise UploadInvalid(
                    "schema",
                    f"line {number}: field {rule.name!r} is {rule.type}, not {record[rule.name]!r}",
                )
    if rows == 0:
        raise UploadInvalid("format", "the upload holds no JSON record")
    return rows


def _check_parquet(data: bytes) -> int:
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise UploadInvalid("format", "not a Parquet file: the PAR1 magic is missing")
    footer = int.from_bytes(data[-8:-4], "little")
    if footer <= 0 or footer > len(data) - 12:
        raise UploadInvalid("format", f"not a Parquet file: footer length {footer} is impossible")
    return 0


def validate_upload(
    key: str,
    data: bytes,
    *,
    format: Format,
    max_bytes: int,
    columns: Sequence[ColumnRule] = (),
) -> Checked:
    """Check one upload (its object ``key`` and content) against a partner's rules;
    :class:`UploadInvalid` says which rule and where."""
    if not data:
        raise UploadInvalid("size", "the upload is empty")
    if len(data) > max_bytes:
        raise UploadInvalid("size", f"the upload is {len(data)} bytes, over the {max_bytes} limit")
    if not key.lower().endswith(_EXTENSIONS[format]):
        raise UploadInvalid(
            "format",
            f"{key.rsplit('/', 1)[-1]!r}: this partner delivers {format} "
            f"(name ending in {' or '.join(_EXTENSIONS[format])})",
        )
    if format == "parquet":
        return Checked("parquet", _check_parquet(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadInvalid("format", f"byte {exc.start}: the upload is not UTF-8 text") from exc
    if format == "csv":
        return Checked("csv", _check_csv(text, columns))
    return Checked("json", _check_json_lines(text, columns))
