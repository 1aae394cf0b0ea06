"""Find a subject's rows under a table's location: from the subject index where it is current,
by reading the objects where it is not (the Lambda-side scan).

The plan lists objects with their version, row counts and bytes, never a personal value.
Parquet objects are read for the subject columns only; JSON lines and CSV objects whole.
Objects in archive storage classes are listed as such (they cannot be read without a restore).

``find_table`` lists the location (one LIST per 1,000 objects) and trusts the index for an
object only at the ETag the index recorded: an object the index does not know at its current
ETag is read (and indexed on the way), so a late S3 event never hides a subject's rows. The
objects the index names as holding the subject are read too, to count the rows exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from meshkit.erasure.formats import UnreadableObjectError, count_matches, distinct_values
from meshkit.erasure.objects import ARCHIVE_CLASSES
from meshkit.erasure.subjects import matcher_for

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from meshkit.erasure.index import SubjectIndex
    from meshkit.erasure.subjects import Matcher

__all__ = ["FoundObject", "Plan", "find_table", "scan_location"]


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
    #: Objects the index answered for without reading them.
    objects_from_index: int = 0
    unversioned: bool = False
    method: Literal["index", "scan", "index+scan"] = "scan"

    @property
    def bytes(self) -> int:
        return sum(o.bytes for o in self.objects)

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


def _holds_rows(key: str) -> bool:
    return not (key.endswith("/") or key.rsplit("/", 1)[-1].startswith(("_", ".")))


def _etag(value: str) -> str:
    return value.strip('"')


def find_table(
    s3: Any,
    location: str,
    keys: Sequence[Mapping[str, str]],
    subject_columns: Mapping[str, str],
    *,
    index: SubjectIndex | None = None,
    owner: str | None = None,
) -> Plan:
    """The subject's objects under one table's ``location`` (see the module docstring)."""
    matcher = matcher_for(keys, subject_columns)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    expected = {"ExpectedBucketOwner": owner} if owner else {}
    plan = Plan()
    if not matcher:
        return plan
    versioning = s3.get_bucket_versioning(Bucket=bucket, **expected).get("Status")
    plan.unversioned = versioning != "Enabled"
    listing: dict[str, dict[str, Any]] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **expected)
    for page in pages:
        for item in page.get("Contents", []):
            if _holds_rows(item["Key"]):
                listing[f"s3://{bucket}/{item['Key']}"] = item
    indexed = index.indexed(listing) if index is not None else {}
    candidates: set[str] = set()
    if index is not None:
        for key in keys:
            if not key or not all(i in subject_columns for i in key):
                continue
            found = [set(index.postings(i, str(v))) for i, v in sorted(key.items())]
            candidates |= set.intersection(*found)
    columns = sorted(set(subject_columns.values()))
    unindexed = 0
    for uri, item in listing.items():
        if item.get("StorageClass", "STANDARD") in ARCHIVE_CLASSES:
            plan.archived.append(uri)
            continue
        known = indexed.get(uri)
        trusted = known is not None and known.etag == _etag(item["ETag"])
        if trusted and uri not in candidates:
            plan.objects_from_index += 1
            continue
        unindexed += 0 if trusted else 1
        object_key = uri.split("/", 3)[3]
        got = s3.get_object(Bucket=bucket, Key=object_key, **expected)
        data = got["Body"].read()
        plan.objects_scanned += 1
        plan.bytes_scanned += len(data)
        try:
            rows, matching = count_matches(object_key, data, matcher)
            if index is not None and not trusted:
                total, values = distinct_values(object_key, data, columns)
                index.record(
                    uri,
                    etag=_etag(got["ETag"]),
                    version_id=got.get("VersionId"),
                    rows=total,
                    values=values,
                    subject_columns=subject_columns,
                )
        except UnreadableObjectError as exc:
            plan.unreadable[uri] = str(exc)
            continue
        if matching:
            plan.objects.append(
                FoundObject(uri, got.get("VersionId"), got["ETag"], rows, matching, len(data))
            )
    readable = len(listing) - len(plan.archived)
    if index is None or (unindexed and unindexed == readable):
        plan.method = "scan"
    else:
        plan.method = "index+scan" if unindexed else "index"
    return plan
