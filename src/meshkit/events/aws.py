"""AWS service events the mesh consumes, modelled exactly as AWS emits them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshkit.events.base import EventDetail

__all__ = ["GlueCrawlerStateChange", "S3ObjectCreated", "ScheduledEvent"]


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
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class S3Bucket(_S3Part):
    name: str = Field(description="Bucket name.")


class S3Object(_S3Part):
    key: str = Field(description="Object key (not URL-encoded in EventBridge events).")
    size: int | None = Field(default=None, ge=0, description="Bytes.")
    etag: str | None = Field(default=None, description="ETag.")
    version_id: str | None = Field(default=None, alias="version-id", description="Version.")
    sequencer: str | None = Field(default=None, description="Orders events of one key.")


class S3ObjectCreated(EventDetail):
    """`Object Created` (source aws.s3) on the bucket account's default bus, sent for buckets
    with EventBridge notifications on (drop zones)."""

    SOURCE: ClassVar[str] = "aws.s3"
    DETAIL_TYPE: ClassVar[str] = "Object Created"
    EXTERNAL: ClassVar[bool] = True

    version: str | None = Field(default=None, description="Detail version.")
    bucket: S3Bucket = Field(description="The bucket.")
    object: S3Object = Field(description="The object.")
    request_id: str | None = Field(default=None, alias="request-id")
    requester: str | None = Field(default=None, description="Account or service that wrote it.")
    source_ip_address: str | None = Field(default=None, alias="source-ip-address")
    reason: str | None = Field(default=None, description="PutObject, CopyObject, …")
