"""Validated identifier types: where an identifier enters the mesh, it is checked."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

__all__ = [
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
]

#: An EventBridge entry is at most 256 KB; keep room for the envelope around the detail.
MAX_DETAIL_BYTES = 250 * 1024

AccountId = Annotated[
    str,
    StringConstraints(pattern=r"^\d{12}$"),
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
S3Uri = Annotated[
    str,
    StringConstraints(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]{0,1000})?$"),
    Field(description="An S3 URI (s3://bucket/prefix).", examples=["s3://sales-data/products/"]),
]
IamRoleArn = Annotated[
    str,
    StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"),
    Field(
        description="An IAM role ARN.",
        examples=["arn:aws:iam::333333333333:role/analyst"],
    ),
]
PrincipalArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]{1,600}$",
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
