"""Two meshes in one central account: LF-tag keys and data locations are per mesh.

Central's handlers run against the lake simulation with two configurations (meshes ``a`` and
``b``) in the same central account, the way two ``CentralGovernance`` stacks of one account run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from test_lake_support import CENTRAL, CONSUMER, PRODUCER, REGION, Lake, running_lake

from meshkit.events.access import AccessRequested
from meshkit.events.domains import DomainDeregistrationRequested, DomainRegistrationRequested
from meshkit.events.envelope import EventEnvelope
from meshkit.events.products import ProductRegistrationRequested
from meshkit.handlers import central, lake
from meshkit.handlers._common import central_database_name
from meshkit.local.lake.sharing import LakeResource
from meshkit.runtime.config import MeshConfig
from meshkit.runtime.context import HandlerContext
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.tables import STATE_TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meshkit.events.base import EventDetail

ANALYST = f"arn:aws:iam::{CONSUMER}:role/analyst"
LOCATION_ROLE = f"arn:aws:iam::{CENTRAL}:role/meshes-location"


class LakeClients:
    """The ClientFactory of a central handler: the central account's session in the lake."""

    def __init__(self, world: Lake) -> None:
        self._world = world

    def client(self, service: str, account: str | None = None) -> Any:
        return self._world.client(account or CENTRAL, service)


class Central:
    """One mesh's central handlers over the shared central account."""

    def __init__(self, world: Lake, mesh: str, *, role_by_name: bool = False) -> None:
        self.world = world
        self.mesh = mesh
        table = f"{mesh}-registry"
        world.client(CENTRAL, "dynamodb").create_table(TableName=table, **STATE_TABLE)
        self.config = MeshConfig(
            mesh_name=mesh,
            role="central",
            account_id=CENTRAL,
            region=REGION,
            central_account=CENTRAL,
            bus=f"meshkit-{mesh}-central",
            group="central.onboarding",
            registry_table=table,
            settings={
                "member_accounts": [PRODUCER, CONSUMER],
                "domain_accounts": {"sales": PRODUCER, "returns": PRODUCER, "marketing": CONSUMER},
                # the construct sets the name; the local mesh the ARN
                **(
                    {"location_role_name": LOCATION_ROLE.rsplit("/", 1)[1]}
                    if role_by_name
                    else {"location_role_arn": LOCATION_ROLE}
                ),
            },
        )

    def handle(self, handler: Any, event: EventDetail, sender: str) -> Any:
        envelope = EventEnvelope.model_validate(
            {
                "id": str(uuid.uuid4()),
                "detail-type": event.DETAIL_TYPE,
                "source": event.SOURCE,
                "account": sender,
                "time": "2026-11-21T12:00:00Z",
                "region": REGION,
                "detail": event.model_dump(mode="json"),
            }
        )
        ctx = HandlerContext(
            config=self.config,
            envelope=envelope,
            clients=LakeClients(self.world),
            clock=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        )
        return handler(event, ctx)

    def join(self, domain: str, account: str, bucket: str) -> None:
        s3 = self.world.client(account, "s3")
        s3.create_bucket(Bucket=bucket)
        self.handle(
            central.register_domain,
            DomainRegistrationRequested(
                domain=domain,
                account_id=account,
                storage_uri=f"s3://{bucket}/products/",
                sharing_mode="tag",
            ),
            account,
        )

    def publish(self, bucket: str) -> None:
        self.handle(
            central.register_product,
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                tables=[
                    {
                        "name": "orders",
                        "location": f"s3://{bucket}/products/orders/orders/",
                        "sensitive": False,
                    }
                ],
            ),
            PRODUCER,
        )

    def orders(self) -> LakeResource:
        database = central_database_name(self.mesh, "sales")
        return LakeResource("table", CENTRAL, database=database, table="orders")


@pytest.fixture
def world() -> Iterator[Lake]:
    # One organisation: grants are usable at once (no RAM invitations to accept).
    with running_lake(organization={CENTRAL, PRODUCER, CONSUMER}) as w:
        yield w


def test_tag_mode_grants_of_one_mesh_never_match_the_other_meshs_tables(world: Lake) -> None:
    # GIVEN two meshes in one central account, each with a domain `sales` publishing `orders`
    # (the same domain and product names: the same LF-tag values)
    a, b = Central(world, "a"), Central(world, "b")
    for mesh in (a, b):
        mesh.join("sales", PRODUCER, f"sales-{mesh.mesh}")
        mesh.join("marketing", CONSUMER, f"marketing-{mesh.mesh}")
        mesh.publish(f"sales-{mesh.mesh}")

    # WHEN the consumer is granted orders of mesh a, in tag mode
    granted = a.handle(
        central.request_access,
        AccessRequested(
            request_id="req-a-orders",
            producer_domain="sales",
            product="orders",
            principals=[ANALYST],
            consumer_domain="marketing",
            purpose="attribution",
            permissions=["SELECT", "DESCRIBE"],
        ),
        CONSUMER,
    )

    # THEN the grant is an expression on mesh a's own keys
    assert granted.sharing_mode == "tag"
    assert granted.lf_tag_expression == {
        "meshkit:a:domain": ["sales"],
        "meshkit:a:product": ["orders"],
        "meshkit:a:class": ["open"],
    }
    # and it reaches mesh a's table only, not mesh b's identically named and tagged one
    assert {"SELECT", "DESCRIBE"} <= world.sim.ledger.effective(
        CONSUMER, a.orders(), issuer=CENTRAL
    )
    assert world.sim.ledger.effective(CONSUMER, b.orders(), issuer=CENTRAL) == set()
    lf = world.client(CENTRAL, "lakeformation")
    keys = {t["TagKey"] for t in lf.list_lf_tags()["LFTags"]}
    assert keys == {
        "meshkit:a:domain",
        "meshkit:a:product",
        "meshkit:a:class",
        "meshkit:b:domain",
        "meshkit:b:product",
        "meshkit:b:class",
    }


def test_the_lf_tag_value_limit_is_counted_per_mesh(world: Lake) -> None:
    # GIVEN Lake Formation's value limit lowered to one value per key
    world.sim.max_tag_values = 1
    a, b = Central(world, "a"), Central(world, "b")
    a.join("sales", PRODUCER, "sales-a")

    # WHEN mesh a's domain key is full, a second domain of mesh a is refused
    with pytest.raises(RejectEvent, match=r"meshkit:a:domain .*one per domain of this mesh"):
        a.join("marketing", CONSUMER, "marketing-a")

    # THEN mesh b, in the same account, still takes a domain of its own
    b.join("sales", PRODUCER, "sales-b")
    tag = world.client(CENTRAL, "lakeformation").get_lf_tag(TagKey="meshkit:b:domain")
    assert tag["TagValues"] == ["sales"]


def test_onboarding_registers_the_domains_storage_in_central_and_deregistration_removes_it(
    world: Lake,
) -> None:
    a = Central(world, "a", role_by_name=True)
    lf = world.client(CENTRAL, "lakeformation")

    a.join("sales", PRODUCER, "sales-a")

    info = lf.describe_resource(ResourceArn="arn:aws:s3:::sales-a/products/")["ResourceInfo"]
    assert info["RoleArn"] == LOCATION_ROLE
    # a redelivered registration is a no-op, not an error
    a.handle(
        central.register_domain,
        DomainRegistrationRequested(
            domain="sales",
            account_id=PRODUCER,
            storage_uri="s3://sales-a/products/",
            sharing_mode="tag",
        ),
        PRODUCER,
    )

    a.handle(
        central.deregister_domain,
        DomainDeregistrationRequested(domain="sales", account_id=PRODUCER),
        PRODUCER,
    )
    assert lf.list_resources()["ResourceInfoList"] == []


def test_storage_in_a_bucket_of_another_account_is_refused_before_anything_is_created(
    world: Lake,
) -> None:
    # GIVEN the consumer's own bucket, which trusts central's location role like every domain's
    world.client(CONSUMER, "s3").create_bucket(Bucket="marketing-a")
    a = Central(world, "a")

    # WHEN the producer claims that bucket as its storage
    with pytest.raises(RejectEvent, match="is not owned by account 222222222222"):
        a.handle(
            central.register_domain,
            DomainRegistrationRequested(
                domain="sales",
                account_id=PRODUCER,
                storage_uri="s3://marketing-a/products/",
                sharing_mode="tag",
            ),
            PRODUCER,
        )

    # THEN central registered nothing and created no tag, database or registry entry
    lf = world.client(CENTRAL, "lakeformation")
    assert lf.list_resources()["ResourceInfoList"] == []
    assert lf.list_lf_tags()["LFTags"] == []
    assert world.client(CENTRAL, "glue").get_databases()["DatabaseList"] == []


def test_overlapping_storage_of_two_domains_of_one_account_is_refused(world: Lake) -> None:
    a = Central(world, "a")
    a.join("sales", PRODUCER, "shared")

    with pytest.raises(RejectEvent, match=r"overlaps the storage of domains \['sales'\]"):
        a.handle(
            central.register_domain,
            DomainRegistrationRequested(
                domain="returns",
                account_id=PRODUCER,
                storage_uri="s3://shared/products/returns/",
                sharing_mode="tag",
            ),
            PRODUCER,
        )
    assert lake.location_arn("s3://shared/products/", LOCATION_ROLE) == (
        "arn:aws:s3:::shared/products/"
    )
