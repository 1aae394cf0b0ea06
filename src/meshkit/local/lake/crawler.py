"""A Glue crawler that really reads the objects, updates the catalog and emits AWS's events.

moto's crawler only flips its state (research §3). ``start_crawler`` queues a crawl here; running
it reads the objects from moto's S3 with pyarrow, plans every catalog change first, applies the
plan only when every object was readable, and emits ``Glue Crawler State Change`` as AWS does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from meshkit.local.lake._aws import Answer, LakeClientError, answer, iso
from meshkit.local.lake.catalog import DATABASE_STATE_CHANGE, database_state_change
from meshkit.local.lake.formats import (
    SERDE,
    ObjectUnreadable,
    arrow_to_hive,
    detect_format,
    list_objects,
    read_object,
    split_location,
    unify,
)
from meshkit.local.lake.sharing import LakeResource

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa

    from meshkit.local.lake.catalog import CatalogSimulation
    from meshkit.local.lake.locations import DataLocations
    from meshkit.local.lake.sharing import SharingLedger

__all__ = ["CrawlerSimulation", "EmitAwsEvent"]

#: ``emit_aws_event(account, source, detail_type, detail, resources)`` (provided by the mesh).
EmitAwsEvent = Callable[[str, str, str, dict[str, Any], list[str]], None]

_SOURCE = "aws.glue"
_DETAIL_TYPE = "Glue Crawler State Change"
#: update_crawler parameters -> moto's FakeCrawler attributes.
_CRAWLER_FIELDS = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Schedule": "schedule",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}
#: Glue's limit of partitions per batch call.
_BATCH = 100


class CrawlFailure(Exception):
    """The crawl fails with this message; nothing in the catalog changes."""


@dataclass
class _TablePlan:
    ref: LakeResource
    existing: dict[str, Any] | None
    table_input: dict[str, Any]
    changed: bool
    delete_behavior: str
    partitions: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Counters:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0


@dataclass
class _LastCrawl:
    status: str
    error: str | None


class CrawlerSimulation:
    """Queues crawls on ``start_crawler`` and runs them on demand."""

    def __init__(
        self,
        *,
        region: str,
        ledger: SharingLedger,
        catalog: CatalogSimulation,
        client: Callable[[str, str], Any],
        attached: Callable[[str], bool],
        emit: EmitAwsEvent,
        clock: Callable[[], datetime],
        locations: DataLocations,
    ) -> None:
        self._region = region
        self._locations = locations
        self._ledger = ledger
        self._catalog = catalog
        self._client = client
        self._attached = attached
        self._emit = emit
        self._clock = clock
        self._queue: list[tuple[str, str]] = []
        # moto does not store LakeFormationConfiguration: keep it from create/update_crawler.
        self._lf_config: dict[tuple[str, str], dict[str, Any]] = {}
        self._last: dict[tuple[str, str], _LastCrawl] = {}

    # ------------------------------------------------------------------ hooks
    def before(self, account: str, op: str, params: Mapping[str, Any]) -> Answer | None:
        """``update_crawler``, which moto does not implement, applied to moto's crawler."""
        if op != "UpdateCrawler":
            return None
        from moto.glue.models import glue_backends

        name = str(params["Name"])
        crawler = glue_backends[account][self._region].crawlers.get(name)
        if crawler is None:
            raise LakeClientError(
                "EntityNotFoundException", f"Crawler entry with name {name} does not exist"
            )
        if crawler.status != "READY":
            raise LakeClientError("CrawlerRunningException", f"Crawler {name} is running.")
        for field_name, attribute in _CRAWLER_FIELDS.items():
            if field_name in params:
                setattr(crawler, attribute, copy.deepcopy(params[field_name]))
        crawler.version += 1
        crawler.last_updated = self._clock()
        return answer({})

    def after(self, account: str, op: str, params: Mapping[str, Any], parsed: Any) -> None:
        if op in {"CreateCrawler", "UpdateCrawler"} and "LakeFormationConfiguration" in params:
            config = dict(params["LakeFormationConfiguration"])
            self._lf_config[(account, str(params["Name"]))] = config
        elif op == "DeleteCrawler":
            self._lf_config.pop((account, str(params["Name"])), None)
            self._last.pop((account, str(params["Name"])), None)
        elif op == "StartCrawler":
            self._queue.append((account, str(params["Name"])))
        elif op == "GetCrawler":
            self._decorate(account, parsed.get("Crawler"))
        elif op == "GetCrawlers":
            for crawler in parsed.get("Crawlers", []):
                self._decorate(account, crawler)

    def _decorate(self, account: str, crawler: dict[str, Any] | None) -> None:
        """AWS's LastCrawl (SUCCEEDED/FAILED with ErrorMessage) and LakeFormationConfiguration."""
        if not crawler:
            return
        key = (account, str(crawler["Name"]))
        if key in self._lf_config:
            crawler["LakeFormationConfiguration"] = dict(self._lf_config[key])
        last = self._last.get(key)
        if last is not None and "LastCrawl" in crawler:
            crawler["LastCrawl"]["Status"] = last.status
            if last.error:
                crawler["LastCrawl"]["ErrorMessage"] = last.error

    # ------------------------------------------------------------------ running
    def run_pending(self) -> int:
        """Run every crawl queued so far, in order; returns how many ran."""
        pending, self._queue = self._queue, []
        ran = 0
        for account, name in pending:
            if self._run(account, name):
                ran += 1
        return ran

    def _moto_crawl(self, account: str, name: str) -> Any:
        from moto.glue.models import glue_backends

        crawler = glue_backends[account][self._region].crawlers.get(name)
        return crawler.crawls[-1] if crawler is not None and crawler.crawls else None

    def _run(self, account: str, name: str) -> bool:
        crawl = self._moto_crawl(account, name)
        if crawl is None or crawl.status != "RUNNING":
            # Deleted or stopped before it ran: AWS emits nothing for a crawl that never ran.
            if crawl is not None and crawl.status == "STOPPING":
                crawl.status = "STOPPED"
            return False
        started = self._clock()
        log_link = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={self._region}"
            f"#logEventViewer:group=/aws-glue/crawlers;stream={name}"
        )
        self._emit(
            account,
            _SOURCE,
            _DETAIL_TYPE,
            {
                "accountId": account,
                "crawlerName": name,
                "startTime": iso(started),
                "state": "Started",
                "message": "Crawler Started",
            },
            [],
        )
        try:
            plans = self._plan(account, name)
            counters = self._apply(plans)
        except (CrawlFailure, ObjectUnreadable, ClientError, LakeClientError) as exc:
            self._finish(account, name, crawl, "FAILED", str(exc))
            self._emit(
                account,
                _SOURCE,
                _DETAIL_TYPE,
                {
                    "crawlerName": name,
                    "errorMessage": str(exc),
                    "accountId": account,
                    "cloudWatchLogLink": log_link,
                    "state": "Failed",
                    "message": "Crawler Failed",
                },
                [],
            )
            return True
        finished = self._finish(account, name, crawl, "SUCCEEDED", None)
        self._emit(
            account,
            _SOURCE,
            _DETAIL_TYPE,
            {
                "tablesCreated": str(counters.tables_created),
                "warningMessage": "N/A",
                "partitionsUpdated": str(counters.partitions_updated),
                "tablesUpdated": str(counters.tables_updated),
                "message": "Crawler Succeeded",
                "partitionsDeleted": str(counters.partitions_deleted),
                "accountId": account,
                "runningTime (sec)": str(max(0, int((finished - started).total_seconds()))),
                "tablesDeleted": str(counters.tables_deleted),
                "crawlerName": name,
                "completionDate": iso(finished),
                "state": "Succeeded",
                "partitionsCreated": str(counters.partitions_created),
                "cloudWatchLogLink": log_link,
            },
            [],
        )
        return True

    def _finish(self, account: str, name: str, crawl: Any, status: str, error: str | None) -> Any:
        finished = self._clock()
        # moto's crawl states are RUNNING/COMPLETED/FAILED; get_crawler is rewritten to AWS's.
        crawl.status = "COMPLETED" if status == "SUCCEEDED" else "FAILED"
        crawl.end_time = finished
        self._last[(account, name)] = _LastCrawl(status, error)
        return finished

    # ------------------------------------------------------------------ planning
    def _plan(self, account: str, name: str) -> list[_TablePlan]:
        glue = self._client(account, "glue")
        crawler = glue.get_crawler(Name=name)["Crawler"]
        targets: list[tuple[LakeResource, str, dict[str, Any] | None]] = []
        for target in crawler.get("Targets", {}).get("CatalogTargets", []):
            for table_name in target.get("Tables", []):
                targets.append(
                    self._catalog_target(account, str(target["DatabaseName"]), table_name)
                )
        for target in crawler.get("Targets", {}).get("S3Targets", []):
            targets.append(self._s3_target(account, crawler, str(target["Path"])))
        if not targets:
            raise CrawlFailure(f"Crawler {name} has no catalog or S3 targets to crawl.")
        policy = crawler.get("SchemaChangePolicy") or {}
        lf_config = self._lf_config.get((account, name), {})
        plans = []
        for ref, location, existing in targets:
            self._check_access(account, ref, existing, lf_config)
            if lf_config.get("UseLakeFormationCredentials"):
                # The data is read with credentials the catalog's Lake Formation vends.
                why = self._locations.unregistered(ref.catalog, location, ref.describe())
                if why is not None:
                    raise CrawlFailure(f"Unable to read the data of {ref.describe()}: {why}.")
            plans.append(self._plan_table(account, name, ref, location, existing, policy))
        return plans

    def _catalog_target(
        self, account: str, database: str, table: str
    ) -> tuple[LakeResource, str, dict[str, Any] | None]:
        ref = self._catalog.resolve_table(account, database, table)
        if ref is None or not self._attached(ref.catalog):
            raise CrawlFailure(f"Table {database}.{table} was not found in the catalog.")
        existing = self._existing(ref)
        if existing is None:
            raise CrawlFailure(
                f"Table {ref.database}.{ref.table} was not found in catalog {ref.catalog}."
            )
        location = (existing.get("StorageDescriptor") or {}).get("Location")
        if not location:
            raise CrawlFailure(
                f"Table {ref.database}.{ref.table} has no StorageDescriptor.Location to crawl."
            )
        return ref, str(location), existing

    def _s3_target(
        self, account: str, crawler: Mapping[str, Any], path: str
    ) -> tuple[LakeResource, str, dict[str, Any] | None]:
        database = crawler.get("DatabaseName")
        if not database:
            raise CrawlFailure("A crawler with S3 targets needs a DatabaseName for its tables.")
        link = self._catalog.database_link(account, str(database))
        catalog, db = link or (account, str(database))
        _, prefix = split_location(path)
        folder = prefix.rstrip("/").rsplit("/", 1)[-1] or split_location(path)[0]
        table = str(crawler.get("TablePrefix") or "") + re.sub(r"[^a-z0-9_]", "_", folder.lower())
        ref = LakeResource("table", catalog, database=db, table=table)
        location = path if path.endswith("/") else path + "/"
        return ref, location, self._existing(ref)

    def _existing(self, ref: LakeResource) -> dict[str, Any] | None:
        try:
            return self._catalog.get_table(ref)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                return None
            raise CrawlFailure(f"Unable to read {ref.describe()}: {exc}") from exc

    def _check_access(
        self,
        account: str,
        ref: LakeResource,
        existing: dict[str, Any] | None,
        lf_config: Mapping[str, Any],
    ) -> None:
        """A crawler writing another account's catalog needs Lake Formation credentials and
        ALTER on the table (CREATE_TABLE on the database for a new one), as on AWS."""
        if ref.catalog == account:
            return
        if not self._attached(ref.catalog):
            raise CrawlFailure(f"Catalog {ref.catalog} is not reachable from account {account}.")
        if not lf_config.get("UseLakeFormationCredentials"):
            raise CrawlFailure(
                f"Crawling {ref.describe()} in another account's catalog requires "
                "LakeFormationConfiguration.UseLakeFormationCredentials."
            )
        if existing is not None:
            needed, target = "ALTER", ref
        else:
            needed = "CREATE_TABLE"
            target = LakeResource("database", ref.catalog, database=ref.database)
        held = self._ledger.effective(account, target, issuer=ref.catalog)
        if needed not in held and "ALL" not in held:
            raise CrawlFailure(
                f"Insufficient Lake Formation permission(s) on {ref.table} "
                f"(Database name: {ref.database}, Table Name: {ref.table}): "
                f"account {account} holds no usable {needed} grant from {ref.catalog}."
            )

    def _plan_table(
        self,
        account: str,
        crawler_name: str,
        ref: LakeResource,
        location: str,
        existing: dict[str, Any] | None,
        policy: Mapping[str, Any],
    ) -> _TablePlan:
        s3 = self._client(account, "s3")
        objects = list_objects(s3, location)
        if not objects:
            raise CrawlFailure(f"No data objects found at {location} (empty or missing).")
        columns: dict[str, pa.DataType] = {}
        formats: set[str] = set()
        records = size = 0
        depth = {len(o.folders) for o in objects}
        if len(depth) != 1:
            raise CrawlFailure(
                f"Objects under {location} sit at different folder depths; a crawler "
                "would split them into several tables. Keep one partition layout per table."
            )
        values_by_object: list[tuple[str, ...]] = []
        for obj in objects:
            data = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
            fmt = detect_format(obj.key, data)
            formats.add(fmt)
            table = read_object(obj, data, fmt)
            for column in table.schema:
                previous = columns.get(column.name)
                columns[column.name] = (
                    column.type if previous is None else unify(previous, column.type)
                )
            records += table.num_rows
            size += obj.size
            values_by_object.append(tuple(_partition_value(f) for f in obj.folders))
        if len(formats) != 1:
            raise CrawlFailure(f"Objects under {location} mix formats {sorted(formats)}.")
        fmt = formats.pop()
        keys = [_partition_key(i, f) for i, f in enumerate(objects[0].folders)]
        table_input = self._table_input(
            crawler_name, ref, location, existing, fmt, columns, keys, records, size, len(objects)
        )
        changed = existing is None or _shape(existing) != _shape(table_input)
        if existing is not None and policy.get("UpdateBehavior") == "LOG":
            # The schema change is only logged; the table keeps its definition.
            changed = False
            table_input = _as_input(existing)
        plan = _TablePlan(
            ref,
            existing,
            table_input,
            changed,
            delete_behavior=str(policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")),
        )
        for obj, values in zip(objects, values_by_object, strict=True):
            if values and values not in plan.partitions:
                sd = copy.deepcopy(table_input["StorageDescriptor"])
                sd["Location"] = location.rstrip("/") + "/" + "/".join(obj.folders) + "/"
                plan.partitions[values] = sd
        return plan

    def _table_input(
        self,
        crawler_name: str,
        ref: LakeResource,
        location: str,
        existing: dict[str, Any] | None,
        fmt: str,
        columns: Mapping[str, pa.DataType],
        keys: list[str],
        records: int,
        size: int,
        count: int,
    ) -> dict[str, Any]:
        old_sd = (existing or {}).get("StorageDescriptor") or {}
        # Column comments and parameters (pii_flag) survive a re-crawl of the same column.
        old_columns = {c["Name"]: c for c in old_sd.get("Columns") or []}
        new_columns = []
        for name, dtype in columns.items():
            if name in keys:
                continue
            column: dict[str, Any] = {"Name": name, "Type": arrow_to_hive(dtype)}
            for kept in ("Comment", "Parameters"):
                if kept in old_columns.get(name, {}):
                    column[kept] = old_columns[name][kept]
            new_columns.append(column)
        crawler_parameters = {
            "classification": fmt,
            "compressionType": "none",
            "typeOfData": "file",
            "UPDATED_BY_CRAWLER": crawler_name,
            "CrawlerSchemaSerializerVersion": "1.0",
            "CrawlerSchemaDeserializerVersion": "1.0",
            "objectCount": str(count),
            "recordCount": str(records),
            "sizeKey": str(size),
            "averageRecordSize": str(size // records if records else 0),
        }
        if fmt == "csv":
            crawler_parameters.update(
                {"delimiter": ",", "skip.header.line.count": "1", "areColumnsQuoted": "false"}
            )
        sd = copy.deepcopy(SERDE[fmt])
        sd.update(
            {
                "Columns": new_columns,
                "Location": location,
                "Compressed": False,
                "NumberOfBuckets": -1,
                "StoredAsSubDirectories": False,
                "Parameters": dict(crawler_parameters),
            }
        )
        table_input: dict[str, Any] = {
            "Name": ref.table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {**((existing or {}).get("Parameters") or {}), **crawler_parameters},
            "StorageDescriptor": sd,
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
        }
        for kept in ("Description", "Owner", "Retention"):
            if existing and kept in existing:
                table_input[kept] = existing[kept]
        return table_input

    # ------------------------------------------------------------------ applying
    def _table_created(self, catalog: str, database: str, table_input: dict[str, Any]) -> None:
        """The crawler's own create_table bypasses the hooks: send Glue's catalog event."""
        found = database_state_change(
            self._region,
            catalog,
            "CreateTable",
            {"DatabaseName": database, "TableInput": table_input},
        )
        if found is not None:
            self._emit(catalog, _SOURCE, DATABASE_STATE_CHANGE, found[0], found[1])

    def _apply(self, plans: list[_TablePlan]) -> _Counters:
        counters = _Counters()
        for plan in plans:
            glue = self._client(plan.ref.catalog, "glue")
            db = plan.ref.database
            try:
                if plan.existing is None:
                    glue.create_table(DatabaseName=db, TableInput=plan.table_input)
                    counters.tables_created += 1
                    self._table_created(plan.ref.catalog, db, plan.table_input)
                elif plan.changed:
                    glue.update_table(DatabaseName=db, TableInput=plan.table_input)
                    counters.tables_updated += 1
                self._apply_partitions(glue, plan, counters)
            except ClientError as exc:
                raise CrawlFailure(f"Unable to update {plan.ref.describe()}: {exc}") from exc
        return counters

    def _apply_partitions(self, glue: Any, plan: _TablePlan, counters: _Counters) -> None:
        db, name = plan.ref.database, plan.ref.table
        existing = {
            tuple(p["Values"]): p
            for p in glue.get_partitions(DatabaseName=db, TableName=name).get("Partitions", [])
        }
        created = [
            {"Values": list(values), "StorageDescriptor": sd}
            for values, sd in plan.partitions.items()
            if values not in existing
        ]
        for start in range(0, len(created), _BATCH):
            result = glue.batch_create_partition(
                DatabaseName=db, TableName=name, PartitionInputList=created[start : start + _BATCH]
            )
            errors = result.get("Errors") or []
            if errors:
                raise CrawlFailure(f"Unable to create partitions of {db}.{name}: {errors}")
        counters.partitions_created += len(created)
        for values, sd in plan.partitions.items():
            old = existing.get(values)
            if old is not None and _sd_shape(old.get("StorageDescriptor") or {}) != _sd_shape(sd):
                glue.update_partition(
                    DatabaseName=db,
                    TableName=name,
                    PartitionValueList=list(values),
                    PartitionInput={"Values": list(values), "StorageDescriptor": sd},
                )
                counters.partitions_updated += 1
        stale = [values for values in existing if values not in plan.partitions]
        if stale and plan.delete_behavior == "DELETE_FROM_DATABASE":
            for start in range(0, len(stale), _BATCH):
                glue.batch_delete_partition(
                    DatabaseName=db,
                    TableName=name,
                    PartitionsToDelete=[{"Values": list(v)} for v in stale[start : start + _BATCH]],
                )
            counters.partitions_deleted += len(stale)


def _partition_value(folder: str) -> str:
    return unquote(folder.split("=", 1)[1]) if "=" in folder else unquote(folder)


def _partition_key(index: int, folder: str) -> str:
    # Hive-style folders name their key; other folders get Glue's partition_N names.
    return folder.split("=", 1)[0].lower() if "=" in folder else f"partition_{index}"


def _sd_shape(sd: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        tuple((c["Name"], c["Type"]) for c in sd.get("Columns") or []),
        sd.get("InputFormat"),
        (sd.get("SerdeInfo") or {}).get("SerializationLibrary"),
    )


def _shape(table: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a re-crawl an update: schema, partition keys, format."""
    return (
        _sd_shape(table.get("StorageDescriptor") or {}),
        tuple((k["Name"], k["Type"]) for k in table.get("PartitionKeys") or []),
        (table.get("Parameters") or {}).get("classification"),
    )


_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


def _as_input(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(table[k]) for k in _TABLE_INPUT_KEYS if k in table}
