"""Validated identifier types: where an identifier enters the mesh, it is checked."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

__all__ = [
    "ARN_PARTITIONS",
    "MAX_DETAIL_BYTES",
    "AccountId",
    "ColumnName",
    "CorrelationId",
    "DomainName",
    "IamRoleArn",
    "LongText",
    "PrincipalArn",
    "ProductName",
    "RequestId",
    "S3Location",
    "S3LocationUri",
    "S3Uri",
    "ShortText",
    "TableName",
    "bucket_name_problem",
    "s3_location_problem",
]

#: An EventBridge entry is at most 256 KB; keep room for the envelope around the detail.
MAX_DETAIL_BYTES = 250 * 1024

#: Partitions an ARN may name; anything else (``arn:awsx:``, a typo) is refused at the boundary.
#: The list is botocore's (``botocore/data/partitions.json``): commercial, China, GovCloud, the
#: European Sovereign Cloud and the isolated (ISO) partitions.
ARN_PARTITIONS = (
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-eusc",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
)
_PARTITION = "(" + "|".join(ARN_PARTITIONS) + ")"

#: ``[0-9]``, not ``\d``: ``\d`` also matches non-ASCII digits (Arabic-Indic, full-width, ...).
AccountId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{12}$"),
    Field(description="A 12-digit AWS account id.", examples=["111111111111"]),
]

#: Domain and product names become Glue database names and LF-tag values: lower-case, short.
DomainName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$"),
    Field(
        description="Domain name: a legal Glue name (lower-case letter, then letters, digits, _).",
        examples=["sales"],
    ),
]
ProductName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$"),
    Field(description="Data product name: a legal Glue name.", examples=["orders"]),
]
TableName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{1,128}$"),
    Field(description="Glue table name (lower-case letters, digits, _).", examples=["orders"]),
]
ColumnName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_][a-z0-9_ .-]{0,254}$"),
    Field(description="Glue column name.", examples=["email"]),
]
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)


def bucket_name_problem(bucket: str) -> str | None:
    """Which S3 bucket naming rule ``bucket`` breaks, or None when it is a legal name."""
    if bucket.isascii() and bucket != bucket.lower() and _BUCKET.fullmatch(bucket.lower()):
        return (
            f"bucket {bucket!r}: bucket names are lower-case ({bucket.lower()!r} is another "
            "spelling S3 does not accept); write the bucket as it was created"
        )
    if not _BUCKET.fullmatch(bucket):
        return (
            f"bucket {bucket!r}: 3-63 characters of a-z, 0-9, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return f"bucket {bucket!r}: no '..', '.-' or '-.' in a bucket name"
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        pass
    else:
        return f"bucket {bucket!r}: a bucket name must not be an IP address"
    if bucket.startswith(("xn--", "sthree-")) or bucket.endswith(("-s3alias", "--ol-s3")):
        return f"bucket {bucket!r}: reserved prefix or suffix (xn--, sthree-, -s3alias, --ol-s3)"
    return None


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Percent-encoded '/', '\\' and '.': a decoder (Athena, Spark, a proxy) may read them as path
#: separators or dot segments, so ``a%2F..%2Fb`` could name another prefix than it shows.
_ENCODED = re.compile(r"%(2f|5c|2e)", re.IGNORECASE)


def _uri_problem(uri: str) -> str | None:
    """Scheme and bucket rules shared by every S3 URI of the mesh."""
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return f"{uri!r}: an S3 URI starts with 's3://' (s3://bucket/prefix)"
    if scheme.group(1) != "s3":
        return (
            f"{uri!r}: scheme {scheme.group(1)!r}:// is not accepted; write it with 's3://' "
            "(s3a://, s3n:// and other spellings of the same bucket are refused so that one "
            "location has one spelling)"
        )
    return bucket_name_problem(uri[len("s3://") :].split("/", 1)[0])


def s3_location_problem(uri: str) -> str | None:
    """Which rule of a canonical data location ``uri`` breaks, or None when it is canonical.

    A data location (a domain's storage, a table's location) is compared with others by its
    text: "does this table lie under that storage", "do two domains' storages overlap". Only
    one spelling of each location is therefore accepted: scheme ``s3://``, a legal lower-case
    bucket name, and a key prefix of non-empty segments that are neither ``.`` nor ``..``,
    without a percent-encoded separator or dot (``%2F``, ``%5C``, ``%2E``), a backslash or a
    control character. A trailing ``/`` is optional (``s3://b/p`` and ``s3://b/p/`` are the
    same prefix).
    """
    problem = _uri_problem(uri)
    if problem is not None:
        return problem
    _, _, key = uri[len("s3://") :].partition("/")
    if not key:
        return None
    encoded = _ENCODED.search(key)
    if encoded is not None:
        return (
            f"{uri!r}: percent-encoded {encoded.group(0)!r} in a location; write the key "
            "prefix decoded, with '/' between its segments"
        )
    if "\\" in key:
        return f"{uri!r}: a backslash in a location; segments are separated by '/'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return f"{uri!r}: a control character in a location"
    segments = key.split("/")
    if segments[-1] == "":
        segments.pop()  # the optional trailing '/'
    for segment in segments:
        if segment == "":
            return f"{uri!r}: an empty segment ('//') in a location; use one '/' between segments"
        if segment in (".", ".."):
            return (
                f"{uri!r}: a {segment!r} segment in a location; write the prefix without "
                "'./' or '../' segments"
            )
    return None


@dataclass(frozen=True)
class S3Location:
    """A canonical S3 data location: bucket and key prefix (``""`` or ending with ``/``).

    :meth:`parse` refuses every non-canonical spelling (:func:`s3_location_problem`), so two
    locations compare by their parts: :meth:`within` ("this table lies under that storage")
    and :meth:`overlaps` ("two storages share objects"), segment by segment, never by a
    string prefix (``s3://b/data`` does not contain ``s3://b/database/``).
    """

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        problem = s3_location_problem(uri)
        if problem is not None:
            raise ValueError(problem)
        bucket, _, key = uri[len("s3://") :].partition("/")
        return cls(bucket, key if not key or key.endswith("/") else key + "/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def within(self, other: S3Location) -> bool:
        """This location is ``other`` or lies under it."""
        return self.bucket == other.bucket and self.prefix.startswith(other.prefix)

    def overlaps(self, other: S3Location) -> bool:
        """One of the two lies under the other (they can hold the same objects)."""
        return self.within(other) or other.within(self)


def _before(check: Any) -> Any:
    """A BeforeValidator running ``check`` on strings: its specific message comes before the
    schema pattern's generic one."""

    def validate(value: Any) -> Any:
        if isinstance(value, str):
            problem = check(value)
            if problem is not None:
                raise ValueError(problem)
        return value

    return BeforeValidator(validate)


_S3_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]{0,1000})?$"

S3Uri = Annotated[
    str,
    StringConstraints(pattern=_S3_PATTERN),
    _before(_uri_problem),
    Field(description="An S3 URI (s3://bucket/prefix).", examples=["s3://sales-data/products/"]),
]
#: A data location: the strict, canonical form (:func:`s3_location_problem`).
S3LocationUri = Annotated[
    str,
    StringConstraints(pattern=_S3_PATTERN),
    _before(s3_location_problem),
    Field(
        description=(
            "A canonical S3 data location (s3://bucket/prefix/): lower-case bucket, no empty, "
            "'.' or '..' segments, no percent-encoded separators."
        ),
        examples=["s3://sales-data/products/"],
    ),
]
IamRoleArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:" + _PARTITION + r":iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
    ),
    Field(
        description="An IAM role ARN.",
        examples=["arn:aws:iam::333333333333:role/analyst"],
    ),
]
PrincipalArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:" + _PARTITION + r":(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/:-]{1,600}$",
    ),
    Field(description="An IAM or STS principal ARN.", examples=["arn:aws:iam::111111111111:root"]),
]
CorrelationId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,128}$"),
    Field(
        description="Follows one flow across accounts; copied from cause to effect.",
        examples=["0b6c3f0e-6e0c-4c8e-9f0a-8a1b2c3d4e5f"],
    ),
]
RequestId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,128}$"),
    Field(description="Identifies one access request.", examples=["req-6e0c4c8e9f0a"]),
]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256, strip_whitespace=True),
]
LongText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000, strip_whitespace=True),
]
