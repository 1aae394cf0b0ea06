"""One object's purge on S3: read one exact version, rewrite it without the subject, write it
back only if nobody wrote in between, verify the new version, optionally delete the old one.

* The read is ``GetObject`` on the current VersionId, remembering its ETag.
* The write is ``PutObject`` with ``IfMatch`` = that ETag (single part, so at most 5 GB; the
  managed transfer rejects ``IfMatch``, research §B.3). A ``412 PreconditionFailed`` (or a
  ``409 ConditionalRequestConflict``) means a concurrent writer: the object is read again at its
  new version and the purge retried, ``max_attempts`` times in all, then the object is reported
  failed, unchanged.
* Verification reads the version just written: zero matching rows, and rows = before - removed.
* ``delete_noncurrent`` deletes the version that held the rows (``DeleteObject`` with its
  VersionId); otherwise it stays as a noncurrent version, and the result says so.
* Objects in archive storage classes and buckets without versioning are reported, not purged:
  the first cannot be read without a restore, the second cannot be written conditionally on a
  version and would lose the old bytes without a trace.

Each object is either fully old or fully new: the only write is the one conditional PutObject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from meshkit.erasure.formats import UnreadableObjectError, count_matches, purge

if TYPE_CHECKING:
    from meshkit.erasure.subjects import Matcher

__all__ = ["ARCHIVE_CLASSES", "ObjectOutcome", "purge_object"]

#: Storage classes whose objects cannot be read without a restore.
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})

Status = Literal[
    "purged", "no_match", "conflict", "unreadable", "archived", "unversioned", "verify_failed"
]


@dataclass
class ObjectOutcome:
    """What happened to one object; never holds a personal value."""

    bucket: str
    key: str
    status: Status
    version_read: str | None = None
    etag_read: str | None = None
    version_written: str | None = None
    rows_before: int = 0
    rows_removed: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    attempts: int = 0
    verified: bool = False
    noncurrent_deleted: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def ok(self) -> bool:
        return self.status in ("purged", "no_match")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return str(error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return ""


def purge_object(
    s3: Any,
    bucket: str,
    key: str,
    matcher: Matcher,
    *,
    max_attempts: int = 3,
    delete_noncurrent: bool = False,
    expected_bucket_owner: str | None = None,
) -> ObjectOutcome:
    """Purge ``matcher``'s rows from ``s3://bucket/key`` (see the module docstring)."""
    owner = {"ExpectedBucketOwner": expected_bucket_owner} if expected_bucket_owner else {}
    outcome = ObjectOutcome(bucket, key, "conflict")
    versioning = s3.get_bucket_versioning(Bucket=bucket, **owner).get("Status")
    if versioning != "Enabled":
        outcome.status = "unversioned"
        outcome.reason = (
            f"bucket {bucket} has versioning {versioning or 'never enabled'}: not purged, since "
            "a conditional rewrite needs versions (enable versioning, then erase again)"
        )
        return outcome
    for attempt in range(1, max_attempts + 1):
        outcome.attempts = attempt
        head = s3.head_object(Bucket=bucket, Key=key, **owner)
        storage_class = head.get("StorageClass", "STANDARD")
        if storage_class in ARCHIVE_CLASSES:
            outcome.status = "archived"
            outcome.reason = f"in storage class {storage_class}: restore it, then erase again"
            return outcome
        version, etag = head.get("VersionId"), head["ETag"]
        got = s3.get_object(Bucket=bucket, Key=key, VersionId=version, IfMatch=etag, **owner)
        data = got["Body"].read()
        outcome.version_read, outcome.etag_read = version, etag
        outcome.bytes_before = len(data)
        try:
            result = purge(key, data, matcher)
        except UnreadableObjectError as exc:
            outcome.status, outcome.reason = "unreadable", str(exc)
            return outcome
        outcome.rows_before, outcome.rows_removed = result.rows_before, result.rows_removed
        if result.data is None:
            outcome.status, outcome.bytes_after = "no_match", len(data)
            outcome.verified = True
            return outcome
        put: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": result.data, "IfMatch": etag}
        for name in ("ContentType", "ContentEncoding", "Metadata", "StorageClass"):
            if got.get(name):
                put[name] = got[name]
        if got.get("ServerSideEncryption") == "aws:kms" and got.get("SSEKMSKeyId"):
            put["ServerSideEncryption"] = "aws:kms"
            put["SSEKMSKeyId"] = got["SSEKMSKeyId"]
        try:
            written = s3.put_object(**put, **owner)
        except Exception as exc:
            if _code(exc) in _CONFLICT_CODES:
                outcome.reason = f"{_code(exc)} on attempt {attempt}: a concurrent writer"
                continue
            raise
        outcome.version_written = written.get("VersionId")
        outcome.bytes_after = len(result.data)
        new = s3.get_object(Bucket=bucket, Key=key, VersionId=outcome.version_written, **owner)
        rows_after, remaining = count_matches(key, new["Body"].read(), matcher)
        outcome.verified = remaining == 0 and rows_after == result.rows_after
        if not outcome.verified:
            outcome.status = "verify_failed"
            outcome.reason = (
                f"new version {outcome.version_written} holds {remaining} matching rows and "
                f"{rows_after} rows, expected 0 and {result.rows_after}"
            )
            return outcome
        outcome.status = "purged"
        if delete_noncurrent and version:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version, **owner)
            outcome.noncurrent_deleted.append(version)
        return outcome
    outcome.status = "conflict"
    outcome.reason = (
        f"concurrent writers changed the object on all {max_attempts} attempts; left unchanged "
        f"({outcome.reason})"
    )
    return outcome
