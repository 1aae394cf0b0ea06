"""Find a subject's rows under a table's location by scanning its objects (the Lambda-side scan).

The plan it returns lists objects with their version, row counts and bytes, never a personal
value. Parquet objects are read for the subject columns only; JSON lines and CSV objects whole.
Objects in archive storage classes are listed as such (they cannot be read without a restore).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meshkit.erasure.formats import UnreadableObjectError, count_matches
from meshkit.erasure.objects import ARCHIVE_CLASSES

if TYPE_CHECKING:
    from meshkit.erasure.subjects import Matcher

__all__ = ["FoundObject", "Plan", "scan_location"]


@dataclass(frozen=True)
class FoundObject:
    uri: str
    version_id: str | None
    etag: str
    rows: int
    matching_rows: int
    bytes: int


@dataclass
class Plan:
    """What a find produced for one table location."""

    objects: list[FoundObject] = field(default_factory=list)
    objects_scanned: int = 0
    bytes_scanned: int = 0
    archived: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def matching_rows(self) -> int:
        return sum(o.matching_rows for o in self.objects)


def scan_location(s3: Any, location: str, matcher: Matcher) -> Plan:
    """Every object under ``location`` (``s3://bucket/prefix/``) holding a matching row."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    plan = Plan()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            uri = f"s3://{bucket}/{key}"
            if key.endswith("/") or key.rsplit("/", 1)[-1].startswith(("_", ".")):
                continue  # folder markers, _SUCCESS and hidden files hold no rows
            if item.get("StorageClass", "STANDARD") in ARCHIVE_CLASSES:
                plan.archived.append(uri)
                continue
            got = s3.get_object(Bucket=bucket, Key=key)
            data = got["Body"].read()
            plan.objects_scanned += 1
            plan.bytes_scanned += len(data)
            try:
                rows, matching = count_matches(key, data, matcher)
            except UnreadableObjectError as exc:
                plan.unreadable[uri] = str(exc)
                continue
            if matching:
                plan.objects.append(
                    FoundObject(uri, got.get("VersionId"), got["ETag"], rows, matching, len(data))
                )
    return plan
