"""Support for the lake tests: three moto accounts with a LakeSimulation attached, and data."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq
from moto import mock_aws

from meshkit.local.lake import LakeSimulation

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
CENTRAL = "111111111111"
PRODUCER = "222222222222"
CONSUMER = "333333333333"
ANALYST = f"arn:aws:iam::{CONSUMER}:role/analyst"
BUCKET = "sales-data"
ORDERS_LOCATION = f"s3://{BUCKET}/products/orders/orders/"


@dataclass
class Clock:
    """A mesh clock that advances a few seconds each time it is read."""

    now: datetime = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=2)
        return self.now


@dataclass
class Lake:
    """Accounts, their sessions (hooks attached) and the events the simulation emitted."""

    sim: LakeSimulation
    sessions: dict[str, boto3.session.Session]
    events: list[dict[str, Any]] = field(default_factory=list)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, account: str, service: str) -> Any:
        key = (account, service)
        if key not in self._clients:
            self._clients[key] = self.sessions[account].client(service)
        return self._clients[key]

    def crawler_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["detail_type"] == "Glue Crawler State Change"]

    def accept_all(self, account: str) -> int:
        ram = self.client(account, "ram")
        pending = [
            i
            for i in ram.get_resource_share_invitations()["resourceShareInvitations"]
            if i["status"] == "PENDING"
        ]
        for invitation in pending:
            ram.accept_resource_share_invitation(
                resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
            )
        return len(pending)


#: Service models load once for every session of the test run (most of a client's cost).
_LOADER = botocore.session.get_session().get_component("data_loader")


def _session(account: str) -> boto3.session.Session:
    def fresh() -> botocore.session.Session:
        core = botocore.session.get_session()
        core.register_component("data_loader", _LOADER)
        return core

    sts = boto3.session.Session(botocore_session=fresh(), region_name=REGION).client("sts")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/lake-test", RoleSessionName="lake-test"
    )["Credentials"]
    return boto3.session.Session(
        botocore_session=fresh(),
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def build_lake(organization: set[str] | None = None) -> Lake:
    events: list[dict[str, Any]] = []

    def emit(
        account: str, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]
    ) -> None:
        events.append(
            {
                "account": account,
                "source": source,
                "detail_type": detail_type,
                "detail": detail,
                "resources": resources,
            }
        )

    sim = LakeSimulation(
        region=REGION, emit_aws_event=emit, clock=Clock(), organization_accounts=organization
    )
    sessions = {}
    for account in (CENTRAL, PRODUCER, CONSUMER):
        sessions[account] = _session(account)
        sim.attach(account, sessions[account])
    return Lake(sim=sim, sessions=sessions, events=events)


@contextmanager
def running_lake(organization: set[str] | None = None) -> Iterator[Lake]:
    """A fresh moto world with the three accounts attached (each test module's fixture)."""
    with mock_aws():
        yield build_lake(organization)


# ---------------------------------------------------------------------- catalog and data
def central_catalog(lake: Lake, *, tables: tuple[str, ...] = ("orders",)) -> None:
    """Central's database `sales` (LF-tagged) with tables at the producer's storage."""
    glue = lake.client(CENTRAL, "glue")
    glue.create_database(DatabaseInput={"Name": "sales", "Parameters": {"mesh": "t"}})
    lf = lake.client(CENTRAL, "lakeformation")
    register_storage(lake)
    lf.create_lf_tag(TagKey="mesh_domain", TagValues=["sales", "finance"])
    lf.create_lf_tag(TagKey="mesh_product", TagValues=["orders", "customers", "returns"])
    lf.add_lf_tags_to_resource(
        Resource={"Database": {"CatalogId": CENTRAL, "Name": "sales"}},
        LFTags=[{"TagKey": "mesh_domain", "TagValues": ["sales"]}],
    )
    for table in tables:
        glue.create_table(
            DatabaseName="sales",
            TableInput={
                "Name": table,
                "Parameters": {"pii_flag": "true" if table == "orders" else "false"},
                "StorageDescriptor": {
                    "Location": f"s3://{BUCKET}/products/{table}/{table}/",
                    "Columns": [
                        {"Name": "email", "Type": "string", "Parameters": {"pii_flag": "true"}}
                    ],
                },
            },
        )
        lf.add_lf_tags_to_resource(
            Resource={"Table": {"CatalogId": CENTRAL, "DatabaseName": "sales", "Name": table}},
            LFTags=[{"TagKey": "mesh_product", "TagValues": [table]}],
        )


def register_storage(lake: Lake, prefix: str = "products/") -> str:
    """Central registers the producer's storage with its Lake Formation, as onboarding does."""
    arn = f"arn:aws:s3:::{BUCKET}/{prefix}"
    lake.client(CENTRAL, "lakeformation").register_resource(
        ResourceArn=arn, RoleArn=f"arn:aws:iam::{CENTRAL}:role/t-location"
    )
    return arn


def grant(
    lake: Lake,
    account: str,
    principal: str,
    resource: dict[str, Any],
    permissions: list[str],
    grantable: list[str] | None = None,
) -> None:
    lake.client(account, "lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": principal},
        Resource=resource,
        Permissions=permissions,
        PermissionsWithGrantOption=grantable or [],
    )


def table_resource(table: str = "orders", catalog: str = CENTRAL) -> dict[str, Any]:
    return {"Table": {"CatalogId": catalog, "DatabaseName": "sales", "Name": table}}


def parquet_bytes(rows: dict[str, list[Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(rows), sink)
    return sink.getvalue()


def csv_bytes(rows: dict[str, list[Any]]) -> bytes:
    names = list(rows)
    lines = [",".join(names)]
    lines += [",".join(str(v) for v in values) for values in zip(*rows.values(), strict=True)]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(rows: dict[str, list[Any]]) -> bytes:
    names = list(rows)
    records = [dict(zip(names, values, strict=True)) for values in zip(*rows.values(), strict=True)]
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def put_objects(lake: Lake, objects: dict[str, bytes]) -> None:
    s3 = lake.client(PRODUCER, "s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def producer_setup(lake: Lake, *, tables: tuple[str, ...] = ("orders",)) -> None:
    """Central grants the producer what registration grants; the producer links and accepts."""
    for table in tables:
        grant(
            lake,
            CENTRAL,
            PRODUCER,
            table_resource(table),
            ["ALTER", "DESCRIBE", "INSERT", "DELETE", "SELECT"],
        )
    grant(
        lake,
        CENTRAL,
        PRODUCER,
        {"Database": {"CatalogId": CENTRAL, "Name": "sales"}},
        ["CREATE_TABLE", "DESCRIBE"],
    )
    lake.accept_all(PRODUCER)
    lake.client(PRODUCER, "glue").create_database(
        DatabaseInput={
            "Name": "sales_link",
            "TargetDatabase": {"CatalogId": CENTRAL, "DatabaseName": "sales"},
        }
    )


def create_crawler(
    lake: Lake, name: str = "t-sales-orders", tables: tuple[str, ...] = ("orders",)
) -> None:
    lake.client(PRODUCER, "glue").create_crawler(
        Name=name,
        Role=f"arn:aws:iam::{PRODUCER}:role/crawler",
        Targets={"CatalogTargets": [{"DatabaseName": "sales_link", "Tables": list(tables)}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
        LakeFormationConfiguration={"UseLakeFormationCredentials": True, "AccountId": CENTRAL},
    )
