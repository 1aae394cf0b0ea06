"""AWS service events the mesh consumes, modelled exactly as AWS emits them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from meshkit.events.base import EventDetail

__all__ = ["GlueCrawlerStateChange", "S3ObjectCreated", "S3ObjectDeleted", "ScheduledEvent"]


class GlueCrawlerStateChange(EventDetail):
    """`Glue Crawler State Change` (source aws.glue) on the crawler account's default bus."""

    SOURCE: ClassVar[str] = "aws.glue"
    DETAIL_TYPE: ClassVar[str] = "Glue Crawler State Change"
    EXTERNAL: ClassVar[bool] = True

    crawler_name: str = Field(alias="crawlerName", description="Crawler name.")
    state: Literal["Started", "Succeeded", "Failed"] = Field(description="New state.")
    message: str | None = Field(default=None, description="Human-readable message.")
    account_id: str | None = Field(default=None, alias="accountId", description="Account.")
    tables_created: str | None = Field(default=None, alias="tablesCreated")
    tables_updated: str | None = Field(default=None, alias="tablesUpdated")
    tables_deleted: str | None = Field(default=None, alias="tablesDeleted")
    partitions_created: str | None = Field(default=None, alias="partitionsCreated")
    partitions_updated: str | None = Field(default=None, alias="partitionsUpdated")
    partitions_deleted: str | None = Field(default=None, alias="partitionsDeleted")
    running_time: str | None = Field(default=None, alias="runningTime (sec)")
    completion_date: str | None = Field(default=None, alias="completionDate")
    start_time: str | None = Field(default=None, alias="startTime")
    cloud_watch_log_link: str | None = Field(default=None, alias="cloudWatchLogLink")
    error_message: str | None = Field(default=None, alias="errorMessage")


class ScheduledEvent(EventDetail):
    """`Scheduled Event` (source aws.events): drives the sweep of expiring requests and grants."""

    SOURCE: ClassVar[str] = "aws.events"
    DETAIL_TYPE: ClassVar[str] = "Scheduled Event"
    EXTERNAL: ClassVar[bool] = True


class _S3Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class S3Bucket(_S3Part):
    name: str = Field(description="Bucket name.")


class S3Object(_S3Part):
    key: str = Field(description="Object key.")
    size: int | None = Field(default=None, description="Object size in bytes.")
    # AWS writes ``etag``; moto writes ``eTag`` (shared/research/next-capabilities.md B.5).
    etag: str | None = Field(
        default=None, validation_alias=AliasChoices("etag", "eTag"), description="ETag."
    )
    version_id: str | None = Field(
        default=None, alias="version-id", description="Version id (versioned buckets)."
    )
    sequencer: str | None = Field(default=None, description="Orders events of one key.")


class _S3ObjectEvent(EventDetail):
    """An S3 object event delivered to EventBridge (bucket with EventBridge notifications on)."""

    EXTERNAL: ClassVar[bool] = True

    bucket: S3Bucket
    object: S3Object
    reason: str | None = Field(
        default=None, description="The operation (PutObject, DeleteObject, Lifecycle Expiration)."
    )


class S3ObjectCreated(_S3ObjectEvent):
    """`Object Created` (source aws.s3) on the bucket owner's default bus."""

    SOURCE: ClassVar[str] = "aws.s3"
    DETAIL_TYPE: ClassVar[str] = "Object Created"


class S3ObjectDeleted(_S3ObjectEvent):
    """`Object Deleted` (source aws.s3): a permanent delete or a delete marker."""

    SOURCE: ClassVar[str] = "aws.s3"
    DETAIL_TYPE: ClassVar[str] = "Object Deleted"

    deletion_type: str | None = Field(
        default=None,
        alias="deletion-type",
        description="Permanently Deleted or Delete Marker Created (AWS only; moto omits it).",
    )
