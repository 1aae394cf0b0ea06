"""Validated identifier types: where an identifier enters the mesh, it is checked."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

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
    "S3Uri",
    "ShortText",
    "TableName",
    "bucket_name_problem",
]

#: An EventBridge entry is at most 256 KB; keep room for the envelope around the detail.
MAX_DETAIL_BYTES = 250 * 1024

#: Partitions an ARN may name; anything else (``arn:awsx:``, a typo) is refused at the boundary.
ARN_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b")
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


def _check_bucket(uri: str) -> str:
    problem = bucket_name_problem(uri[len("s3://") :].split("/", 1)[0])
    if problem is not None:
        raise ValueError(problem)
    return uri


S3Uri = Annotated[
    str,
    StringConstraints(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]{0,1000})?$"),
    AfterValidator(_check_bucket),
    Field(description="An S3 URI (s3://bucket/prefix).", examples=["s3://sales-data/products/"]),
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
