"""Publishing products to DataZone and DataZone subscriptions, in the local mesh.

The mesh runs with the DataZone simulation (meshkit.local.datazone): central publishes every
product of a domain that asked for it, each asynchronous DataZone step completes through
DataZone's own event, and a subscription made in DataZone goes through the mesh's decision path.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessRevoked
from meshkit.events.domains import DomainDeregistrationRequested, DomainRegistrationRequested
from meshkit.events.products import (
    ProductDeprecated,
    ProductRegistrationRequested,
    ProductSchemaUpdated,
    TableSchema,
    TableSpec,
)
from meshkit.events.publication import DomainPublicationConfigured, ProductPublicationOverride
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import add_crawled_column, daily_revenue_csv, orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING, FINANCE = "111111111111", "222222222222", "333333333333", "444444444444"


def _mesh(sharing_mode: str) -> Any:
    m = LocalMesh(name="t", central_account=CENTRAL, seed=5, datazone=True)
    with m:
        m.add_domain("sales", account=SALES, sharing_mode=sharing_mode, datazone_project="sales")
        m.add_domain("marketing", account=MARKETING, datazone_project="marketing")
        m.run_until_idle()
        yield m


@pytest.fixture
def mesh() -> Any:
    """Publication does not depend on the sharing mode: one mode."""
    yield from _mesh("named")


@pytest.fixture(params=["named", "tag"])
def both(request: Any) -> Any:
    """Subscriptions end in grants: both sharing modes."""
    yield from _mesh(request.param)


def _register(mesh: LocalMesh, *, daily: bool = False, description: str | None = None) -> None:
    sales = mesh.domain("sales")
    day = date(2026, 11, 1)
    sales.upload("products/orders/orders/part-0.parquet", orders_parquet(day, 10, seed=1))
    base = sales.storage_uri.rstrip("/")
    tables = [TableSpec(name="orders", location=f"{base}/orders/orders/", pii_columns=["email"])]
    if daily:
        sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(day, 2, seed=2))
        tables.append(TableSpec(name="daily", location=f"{base}/orders/daily/", sensitive=False))
    sales.put(
        ProductRegistrationRequested(
            domain="sales", product="orders", tables=tables, description=description
        )
    )
    mesh.run_until_idle()


def _subscribe(mesh: LocalMesh, project: str = "marketing", table: str = "orders") -> str:
    dz, did = mesh.datazone, mesh.datazone_domain_id
    client = mesh.session(CENTRAL).client("datazone")
    found = client.search_listings(domainIdentifier=did, searchText=table)["items"]
    listing = next(i["assetListing"] for i in found if i["assetListing"]["name"] == table)
    request = client.create_subscription_request(
        domainIdentifier=did,
        subscribedPrincipals=[{"project": {"identifier": dz.project_id(did, project)}}],
        subscribedListings=[{"identifier": listing["listingId"]}],
        requestReason="campaign analysis",
    )
    mesh.run_until_idle()
    return str(request["id"])


def test_a_schema_update_publishes_the_product_without_polling(mesh: LocalMesh) -> None:
    with mesh.accounting.window("publish") as stats:
        _register(mesh, daily=True)
    published = mesh.published("ProductPublished")
    assert len(published) == 1
    assert published[0]["product"] == "orders"
    assert published[0]["added"] == 2
    listings = mesh.datazone.listings(mesh.datazone_domain_id)
    assert {x["name"] for x in listings} == {"orders_orders", "orders_daily"} or {
        x["name"] for x in listings
    } == {"orders", "orders_daily"}
    assert sorted(published[0]["asset_ids"]) == sorted(x["asset_id"] for x in listings)
    assert stats.polls == 0
    # One environment for the project, created once, completed by its own event.
    assert len(mesh.datazone.environments(mesh.datazone_domain_id)) == 1
    assert stats.calls_by_operation["datazone.CreateEnvironment"] == 1
    assert stats.calls_by_operation["datazone.StartDataSourceRun"] == 1
    assert mesh.dead_letters() == []


def test_republishing_happens_only_when_tables_or_columns_change(mesh: LocalMesh) -> None:
    _register(mesh)
    first = mesh.published("ProductPublished")[-1]
    product = mesh.product("sales", "orders")
    assert product is not None
    table = TableSchema.model_validate((product.schema_ or [])[0].model_dump())
    event = ProductSchemaUpdated(
        domain="sales",
        product="orders",
        crawler_name="t-sales-orders",
        tables=[table],
    )
    sales = mesh.domain("sales")
    with mesh.accounting.window("same") as same:
        sales.put(event)
        mesh.run_until_idle()
    assert same.calls_by_operation["datazone.StartDataSourceRun"] == 0
    assert len(mesh.published("ProductPublished")) == 1
    # A new column, as the crawler writes it into central's catalog, then its event.
    changed = add_crawled_column(mesh.central.client("glue"), "t_sales", table, "channel")
    with mesh.accounting.window("changed") as stats:
        sales.put(event.model_copy(update={"tables": [changed]}))
        mesh.run_until_idle()
    assert stats.calls_by_operation["datazone.StartDataSourceRun"] == 1
    assert stats.calls_by_operation["datazone.CreateDataSource"] == 0
    assert stats.calls_by_operation["datazone.CreateEnvironment"] == 0
    again = mesh.published("ProductPublished")[-1]
    assert again["updated"] == 1
    assert again["asset_ids"] == first["asset_ids"]
    (listing,) = mesh.datazone.listings(mesh.datazone_domain_id)
    assert listing["revision"] == 2
    assert "channel" in {c["name"] for c in listing["columns"]}


def test_a_failed_run_reports_datazone_s_message(mesh: LocalMesh) -> None:
    mesh.datazone.fail_next_run = ("ACCESS_DENIED_EXCEPTION", "Lake Formation denied DESCRIBE")
    _register(mesh)
    (failed,) = mesh.published("ProductPublicationFailed")
    assert failed["stage"] == "run"
    assert "Lake Formation denied DESCRIBE" in failed["message"]
    assert mesh.published("ProductPublished") == []
    assert mesh.datazone.listings(mesh.datazone_domain_id) == []


def test_a_sensitive_subscription_goes_through_approval_and_revocation(both: LocalMesh) -> None:
    mesh = both
    _register(mesh)
    did = mesh.datazone_domain_id
    sub = _subscribe(mesh)
    rid = f"dz-{sub}"
    request = mesh.request(rid)
    assert request is not None
    assert request.state == "PENDING"
    assert request.consumer_domain == "marketing"
    assert mesh.datazone.subscription_request(did, sub)["status"] == "PENDING"
    mesh.domain("sales").put(
        AccessDecided(request_id=rid, approved=True, decided_by="owner", reason="contract 12")
    )
    mesh.run_until_idle()
    assert mesh.request(rid).state == "APPROVED"  # type: ignore[union-attr]
    assert mesh.datazone.subscription_request(did, sub)["status"] == "ACCEPTED"
    (subscription,) = mesh.datazone.subscriptions(did)
    assert subscription["status"] == "APPROVED"
    # The consumer linked the grant: DataZone's subscription grant is reported fulfilled.
    (grant,) = mesh.datazone.grants(did)
    assert grant["status"] == "COMPLETED"
    assert [a["status"] for a in grant["assets"]] == ["GRANTED"]
    # The grant is real: marketing's principal reads the product.
    marketing = mesh.domain("marketing")
    name = mesh.link_names("sales", "orders", "orders")
    rows = marketing.query(f"SELECT count(*) AS n FROM {name}")
    assert rows.rows[0][0] == 10
    mesh.domain("sales").put(
        AccessRevoked(request_id=rid, reason="contract ended", revoked_by="owner")
    )
    mesh.run_until_idle()
    assert mesh.datazone.subscriptions(did)[0]["status"] == "REVOKED"
    assert [a["status"] for a in mesh.datazone.grants(did)[0]["assets"]] == ["REVOKED"]
    assert mesh.dead_letters() == []


def test_a_denied_request_rejects_the_subscription(both: LocalMesh) -> None:
    mesh = both
    _register(mesh)
    sub = _subscribe(mesh)
    mesh.domain("sales").put(
        AccessDecided(
            request_id=f"dz-{sub}", approved=False, decided_by="owner", reason="no contract"
        )
    )
    mesh.run_until_idle()
    got = mesh.datazone.subscription_request(mesh.datazone_domain_id, sub)
    assert got["status"] == "REJECTED"
    assert "no contract" in got["comment"]


def test_a_non_sensitive_subscription_is_granted_at_once(both: LocalMesh) -> None:
    mesh = both
    _register(mesh, daily=True)
    sub = _subscribe(mesh, table="orders_daily")
    assert mesh.request(f"dz-{sub}").state == "APPROVED"  # type: ignore[union-attr]
    got = mesh.datazone.subscription_request(mesh.datazone_domain_id, sub)
    assert got["status"] == "ACCEPTED"


def test_a_project_bound_to_no_domain_is_rejected_in_datazone(mesh: LocalMesh) -> None:
    _register(mesh)
    dz, did = mesh.datazone, mesh.datazone_domain_id
    dz.create_project(did, "interns")
    sub = _subscribe(mesh, project="interns")
    got = dz.subscription_request(did, sub)
    assert got["status"] == "REJECTED"
    assert "bound to no mesh domain" in got["comment"]
    assert mesh.request(f"dz-{sub}") is None


def test_a_project_publishes_for_one_domain_only(mesh: LocalMesh) -> None:
    finance = mesh.add_domain("finance", account=FINANCE)
    mesh.run_until_idle()
    finance.put(
        DomainPublicationConfigured(
            domain="finance", datazone_domain_id=mesh.datazone_domain_id, project_name="sales"
        )
    )
    mesh.run_until_idle()
    (rejected,) = [
        r
        for r in mesh.published("EventRejected")
        if r["event_detail_type"] == "DomainPublicationConfigured"
    ]
    assert "already bound to domain 'sales'" in rejected["reason"]


def test_a_domain_cannot_configure_another_domain_s_publication(mesh: LocalMesh) -> None:
    mesh.domain("marketing").put(
        DomainPublicationConfigured(
            domain="sales", datazone_domain_id=mesh.datazone_domain_id, project_name="marketing"
        )
    )
    mesh.run_until_idle()
    (rejected,) = [
        r
        for r in mesh.published("EventRejected")
        if r["event_detail_type"] == "DomainPublicationConfigured"
    ]
    assert rejected["kind"] == "authorisation"


def test_an_opted_out_product_is_not_published(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(
        DomainPublicationConfigured(
            domain="sales",
            datazone_domain_id=mesh.datazone_domain_id,
            project_name="sales",
            products=[ProductPublicationOverride(product="orders", publish=False)],
        )
    )
    mesh.run_until_idle()
    _register(mesh)
    assert mesh.published("ProductPublished") == []


def test_deprecation_unpublishes_the_listings(mesh: LocalMesh) -> None:
    _register(mesh)
    mesh.domain("sales").put(ProductDeprecated(domain="sales", product="orders", reason="v2"))
    mesh.run_until_idle()
    (gone,) = mesh.published("ProductUnpublished")
    assert "deprecated" in gone["reason"]
    assert mesh.datazone.listings(mesh.datazone_domain_id) == []
    assert mesh.datazone.listings(mesh.datazone_domain_id, status="INACTIVE")


def test_duplicate_delivery_publishes_and_subscribes_once(mesh: LocalMesh) -> None:
    mesh.faults.duplicate_delivery = True
    _register(mesh)
    sub = _subscribe(mesh)
    assert len(mesh.published("ProductPublished")) == 1
    assert len(mesh.datazone.runs(mesh.datazone_domain_id)) == 1
    assert len(mesh.published("SubscriptionRequestReceived")) == 1
    assert mesh.request(f"dz-{sub}").state == "PENDING"  # type: ignore[union-attr]
    assert mesh.dead_letters() == []


def test_business_metadata_reaches_the_listing_once(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(
        DomainPublicationConfigured(
            domain="sales",
            datazone_domain_id=mesh.datazone_domain_id,
            project_name="sales",
            glossary_terms=["orders_term"],
            owner="sales-data@example.com",
        )
    )
    mesh.run_until_idle()
    _register(mesh, description="Web-shop orders, one row per order")
    (listing,) = mesh.datazone.listings(mesh.datazone_domain_id)
    assert listing["glossary_terms"] == ["orders_term"]
    assert listing["description"] == (
        "Web-shop orders, one row per order\n\nOwner: sales-data@example.com"
    )
    assert listing["listed_revision"] == str(listing["revision"])  # the revision is listed
    # Redelivering the run's event revises nothing again.
    before = listing["revision"]
    mesh.faults.duplicate_delivery = True
    mesh.datazone.fail_next_run = None
    mesh.run_until_idle()
    assert mesh.datazone.listings(mesh.datazone_domain_id)[0]["revision"] == before


def test_a_failed_environment_fails_the_publication_with_its_status(mesh: LocalMesh) -> None:
    mesh.datazone.fail_next_environment = True
    _register(mesh)
    (failed,) = mesh.published("ProductPublicationFailed")
    assert failed["stage"] == "environment"
    assert "CREATE_FAILED" in failed["message"]
    assert mesh.datazone.runs(mesh.datazone_domain_id) == []


def test_deregistration_unpublishes_the_domain_s_products(mesh: LocalMesh) -> None:
    _register(mesh)
    mesh.domain("sales").put(DomainDeregistrationRequested(domain="sales", account_id=SALES))
    mesh.run_until_idle()
    (gone,) = mesh.published("ProductUnpublished")
    assert gone["reason"] == "domain deregistered"
    assert mesh.datazone.listings(mesh.datazone_domain_id) == []


def test_a_grant_the_consumer_refuses_fails_and_revokes_the_subscription(both: LocalMesh) -> None:
    mesh = both
    # finance subscribes as a principal outside its consumer allowlist: it refuses the grant.
    stranger = f"arn:aws:iam::{FINANCE}:role/not-a-consumer-principal"
    mesh.add_domain(
        "finance",
        account=FINANCE,
        settings={"datazone_principals": [stranger]},
        datazone_project="finance",
    )
    mesh.run_until_idle()
    _register(mesh, daily=True)
    did = mesh.datazone_domain_id
    sub = _subscribe(mesh, project="finance", table="orders_daily")
    record = mesh.request(f"dz-{sub}")
    assert record is not None
    assert record.state == "LINK_FAILED"
    # DataZone mirrors the mesh: the grant failed with the consumer's reason, no access left.
    assert mesh.datazone.subscription_request(did, sub)["status"] == "ACCEPTED"
    (subscription,) = mesh.datazone.subscriptions(did)
    assert subscription["status"] == "REVOKED"
    (grant,) = mesh.datazone.grants(did)
    assert [a["status"] for a in grant["assets"]] == ["GRANT_FAILED"]
    assert "consumer principals" in grant["assets"][0]["failureCause"]["message"]
    assert mesh.dead_letters() == []


def test_the_owner_defaults_to_the_domain_s_and_a_product_may_name_its_own(
    mesh: LocalMesh,
) -> None:
    # The domain registered with an owner (re-registration updates it) ...
    sales = mesh.domain("sales")
    sales.put(
        DomainRegistrationRequested(
            domain="sales",
            account_id=SALES,
            storage_uri=sales.storage_uri,
            sharing_mode="named",
            owner="Sales analytics",
        )
    )
    mesh.run_until_idle()
    config: dict[str, Any] = {
        "domain": "sales",
        "datazone_domain_id": mesh.datazone_domain_id,
        "project_name": "sales",
    }
    sales.put(DomainPublicationConfigured(**config))
    mesh.run_until_idle()
    _register(mesh)
    (listing,) = mesh.datazone.listings(mesh.datazone_domain_id)
    assert listing["description"] == "Owner: Sales analytics"
    # ... and a per-product override names another one: a new revision, once.
    override = ProductPublicationOverride(product="orders", owner="orders-team@example.com")
    sales.put(DomainPublicationConfigured(**config, products=[override]))
    mesh.run_until_idle()
    (listing,) = mesh.datazone.listings(mesh.datazone_domain_id)
    assert listing["description"] == "Owner: orders-team@example.com"
    assert mesh.dead_letters() == []


@pytest.mark.parametrize(
    "lost",
    [
        ["Environment Deployment Completed"],
        ["Data Source Created"],
        ["Data Source Run Succeeded"],
        ["Environment Deployment Completed", "Data Source Run Succeeded"],
    ],
)
def test_a_lost_datazone_event_is_recovered_by_the_hourly_reconcile(
    mesh: LocalMesh, lost: list[str]
) -> None:
    mesh.datazone.lose_events = list(lost)
    _register(mesh)
    assert mesh.published("ProductPublished") == []
    assert mesh.datazone.lost_events == lost[:1]
    # Within the grace period the reconcile reads nothing: the event may still come.
    with mesh.accounting.window("early") as early:
        mesh.advance(timedelta(minutes=10))
        mesh.run_until_idle()
    assert early.calls_by_operation.get("datazone.GetEnvironment", 0) == 0
    assert early.calls_by_operation.get("datazone.GetDataSourceRun", 0) == 0
    # After it, one reconcile per lost event takes the publication on.
    for _ in lost:
        mesh.advance(timedelta(hours=1))
        mesh.run_until_idle()
    assert mesh.datazone.lost_events == lost
    (published,) = mesh.published("ProductPublished")
    assert published["product"] == "orders"
    assert [x["name"] for x in mesh.datazone.listings(mesh.datazone_domain_id)] == ["orders"]
    # Nothing is left in flight: later reconciles read nothing.
    with mesh.accounting.window("later") as later:
        mesh.advance(timedelta(hours=2))
        mesh.run_until_idle()
    assert not [op for op in later.calls_by_operation if op.startswith("datazone.")]
    assert mesh.dead_letters() == []
