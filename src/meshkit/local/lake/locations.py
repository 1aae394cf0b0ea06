"""Registered data locations: Lake Formation vends credentials only for registered storage.

A table's data is read with credentials that the Lake Formation of the account holding the table
(its catalog) vends, through the role that account registered the location with. A location no
registration of that account covers is not readable through Lake Formation: queries and crawls
through it fail, as on AWS (docs/deploy.md, "Data locations").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.local.lake.formats import split_location

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DataLocations", "bucket_owner"]


def _covers(arn: str, bucket: str, prefix: str) -> bool:
    """Whether the registered ``arn:<p>:s3:::bucket[/path]`` covers ``bucket``/``prefix``."""
    if ":s3:::" not in arn:
        return False
    path = arn.split(":s3:::", 1)[1]
    registered_bucket, _, registered_prefix = path.partition("/")
    if registered_bucket != bucket:
        return False
    registered_prefix = registered_prefix.strip("/")
    if not registered_prefix:
        return True
    return (prefix.strip("/") + "/").startswith(registered_prefix + "/")


class DataLocations:
    """Reads each account's registrations (moto's ``list_resources``) to check a location."""

    def __init__(self, client: Callable[[str, str], Any]) -> None:
        self._client = client

    def registration(self, catalog: str, location: str) -> str | None:
        """The registered resource ARN of ``catalog``'s Lake Formation covering ``location``."""
        bucket, prefix = split_location(location)
        lf = self._client(catalog, "lakeformation")
        token: str | None = None
        while True:
            page = lf.list_resources(**({"NextToken": token} if token else {}))
            for info in page.get("ResourceInfoList", []):
                arn = str(info.get("ResourceArn", ""))
                if _covers(arn, bucket, prefix):
                    return arn
            token = page.get("NextToken")
            if not token:
                return None

    def unregistered(self, catalog: str, location: str, table: str) -> str | None:
        """Why ``table``'s data cannot be read through Lake Formation, or None if it can."""
        if self.registration(catalog, location) is not None:
            return None
        return (
            f"{location} (table {table}) is not a data location registered with Lake "
            f"Formation in account {catalog}, whose catalog holds the table: Lake Formation "
            "vends no credentials for it (register it in that account with RegisterResource)"
        )


def bucket_owner(bucket: str) -> str | None:
    """The account that owns ``bucket`` in moto (moto's S3 is shared by all accounts)."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    return owner[1] if owner else None
