"""AWS service events the mesh consumes, modelled exactly as AWS emits them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from meshkit.events.base import EventDetail

__all__ = ["GlueCrawlerStateChange", "ScheduledEvent"]


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
