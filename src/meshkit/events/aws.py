"""AWS service events the mesh consumes, modelled exactly as AWS emits them."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from meshkit.events.base import EventDetail

__all__ = [
    "DATAZONE_EVENTS",
    "DataZoneDataSourceCreated",
    "DataZoneDataSourceRunFailed",
    "DataZoneDataSourceRunSucceeded",
    "DataZoneEnvironmentDeploymentCompleted",
    "DataZoneEnvironmentDeploymentFailed",
    "DataZoneEvent",
    "DataZoneSubscriptionRequestCreated",
    "GlueCrawlerStateChange",
    "GlueDataCatalogDatabaseStateChange",
    "S3ObjectCreated",
    "S3ObjectDeleted",
    "ScheduledEvent",
]


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


class GlueDataCatalogDatabaseStateChange(EventDetail):
    """`Glue Data Catalog Database State Change` (source aws.glue) on the catalog account's
    default bus: a database or tables of it were created or deleted.

    AWS sends it for CreateDatabase, DeleteDatabase, CreateTable, DeleteTable and
    BatchDeleteTable, **best effort**: events may be missing or out of order, so a consumer
    treats it as a trigger and keeps a periodic full reconcile.
    """

    SOURCE: ClassVar[str] = "aws.glue"
    DETAIL_TYPE: ClassVar[str] = "Glue Data Catalog Database State Change"
    EXTERNAL: ClassVar[bool] = True

    database_name: str = Field(
        alias="databaseName", min_length=1, description="The database.", examples=["sales_db"]
    )
    type_of_change: str = Field(
        alias="typeOfChange",
        min_length=1,
        description="The Glue API call: CreateDatabase, DeleteDatabase, CreateTable, "
        "DeleteTable or BatchDeleteTable.",
        examples=["CreateTable"],
    )
    changed_tables: list[str] = Field(
        default_factory=list,
        alias="changedTables",
        description="The tables created or deleted (none for a database change).",
        examples=[["orders"]],
    )


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


class DataZoneEvent(EventDetail):
    """An Amazon DataZone event (source aws.datazone) on the DataZone account's default bus.

    AWS documents the detail-types, not the detail: handlers read ``metadata.id`` (the entity
    the event is about), ``metadata.domain`` and the entity ids in ``data``, and fetch the rest
    with the API, so a field AWS adds or moves costs nothing.
    """

    SOURCE: ClassVar[str] = "aws.datazone"
    EXTERNAL: ClassVar[bool] = True

    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Entity id, DataZone domain, owning project, version."
    )
    data: dict[str, Any] = Field(default_factory=dict, description="The entity's details.")

    def entity_id(self, *keys: str) -> str | None:
        """The first of ``data[key]`` for ``keys``, else ``metadata.id``."""
        for key in keys:
            value = self.data.get(key)
            if isinstance(value, str) and value:
                return value
        value = self.metadata.get("id")
        return value if isinstance(value, str) and value else None

    @property
    def datazone_domain(self) -> str | None:
        value = self.metadata.get("domain") or self.data.get("domainId")
        return value if isinstance(value, str) else None


class DataZoneEnvironmentDeploymentCompleted(DataZoneEvent):
    """An environment finished deploying (``metadata.id`` is the environment id)."""

    DETAIL_TYPE: ClassVar[str] = "Environment Deployment Completed"


class DataZoneEnvironmentDeploymentFailed(DataZoneEvent):
    """An environment failed to deploy."""

    DETAIL_TYPE: ClassVar[str] = "Environment Deployment Failed"


class DataZoneDataSourceCreated(DataZoneEvent):
    """A data source is ready to run (``metadata.id`` is the data source id)."""

    DETAIL_TYPE: ClassVar[str] = "Data Source Created"


class DataZoneDataSourceRunSucceeded(DataZoneEvent):
    """A data source run ended; ``runStatisticsForAssets.failed`` may still count failures."""

    DETAIL_TYPE: ClassVar[str] = "Data Source Run Succeeded"


class DataZoneDataSourceRunFailed(DataZoneEvent):
    """A data source run failed."""

    DETAIL_TYPE: ClassVar[str] = "Data Source Run Failed"


class DataZoneSubscriptionRequestCreated(DataZoneEvent):
    """A project asked to subscribe to a listing (``metadata.id`` is the request id)."""

    DETAIL_TYPE: ClassVar[str] = "Subscription Request Created"


#: The DataZone events the publication flow consumes.
DATAZONE_EVENTS: tuple[type[DataZoneEvent], ...] = (
    DataZoneEnvironmentDeploymentCompleted,
    DataZoneEnvironmentDeploymentFailed,
    DataZoneDataSourceCreated,
    DataZoneDataSourceRunSucceeded,
    DataZoneDataSourceRunFailed,
    DataZoneSubscriptionRequestCreated,
)
