"""Lifecycle ends close what they opened, in the local mesh and in both sharing modes:
deregistration of a domain, a consumer's refusal of a grant, deprecation with a stated end."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessRequested
from meshkit.events.domains import DomainDeregistrationRequested
from meshkit.events.products import ProductDeprecated, ProductRegistrationRequested, TableSpec
from meshkit.handlers._common import central_database_name
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"
DAY = date(2026, 11, 1)


@pytest.fixture(params=["named", "tag"])
def mesh(request: Any) -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=5) as m:
        m.add_domain("sales", account=SALES, sharing_mode=request.param)
        m.add_domain("marketing", account=MARKETING, sharing_mode=request.param)
        m.run_until_idle()
        yield m


def _register_orders(mesh: LocalMesh) -> None:
    """sales.orders: ``orders`` (a declared PII column: needs approval), ``daily`` (open)."""
    sales = mesh.domain("sales")
    sales.upload("products/orders/orders/part-0.parquet", orders_parquet(DAY, 10, seed=1))
    sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(DAY, 2, seed=2))
    base = sales.storage_uri.rstrip("/")
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="orders",
            tables=[
                TableSpec(name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]),
                TableSpec(name="daily", location=f"{base}/orders/daily/"),
            ],
        )
    )


def _register_campaigns(mesh: LocalMesh) -> None:
    marketing = mesh.domain("marketing")
    marketing.upload("products/campaigns/daily/part-0.csv", daily_revenue_csv(DAY, 3, seed=4))
    base = marketing.storage_uri.rstrip("/")
    marketing.put(
        ProductRegistrationRequested(
            domain="marketing",
            product="campaigns",
            tables=[TableSpec(name="daily", location=f"{base}/campaigns/daily/")],
        )
    )


def _ask(
    mesh: LocalMesh,
    consumer: str,
    producer: str,
    product: str,
    tables: list[str],
    *,
    principal: str | None = None,
) -> str:
    domain = mesh.domain(consumer)
    rid = f"req-{uuid.uuid4().hex[:10]}"
    domain.put(
        AccessRequested(
            request_id=rid,
            consumer_domain=consumer,
            producer_domain=producer,
            product=product,
            tables=tables,
            principals=[principal or domain.principal("analyst")],
            purpose="testing",
        )
    )
    return rid


def _state(mesh: LocalMesh, rid: str) -> str:
    record = mesh.request(rid)
    assert record is not None
    return record.state


def _account_grants(mesh: LocalMesh, account: str, about: str = "sales") -> list[Any]:
    """What central granted ``account`` on domain ``about``'s data (database, tables or an
    LF-tag expression naming the domain)."""
    database = central_database_name(mesh.name, about)
    return [
        g
        for g in mesh.lake.ledger.grants(account)
        if g.grantor == CENTRAL
        and (g.resource.database == database or f'"{about}"' in g.resource.raw)
    ]


def _databases(mesh: LocalMesh, account: str) -> set[str]:
    with mesh.quiet():
        glue = mesh.session(account).client("glue")
        return {d["Name"] for d in glue.get_databases()["DatabaseList"]}


def _consumer_note(mesh: LocalMesh, domain: str, pk: str, rid: str) -> dict[str, Any] | None:
    handle = mesh.domain(domain)
    with mesh.quiet():
        item = handle.client("dynamodb").get_item(
            TableName=handle.resources.state_table,
            Key={"pk": {"S": pk}, "sk": {"S": rid}},
        )
    raw = item.get("Item")
    return {k: next(iter(v.values())) for k, v in raw.items()} if raw else None


def _central_item(mesh: LocalMesh, pk: str, sk: str) -> dict[str, Any] | None:
    with mesh.quiet():
        item = mesh.central.client("dynamodb").get_item(
            TableName=mesh.central.config.registry_table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
        )
    raw = item.get("Item")
    return {k: next(iter(v.values())) for k, v in raw.items()} if raw else None


# -- deregistration --------------------------------------------------------------------------
def test_deregistration_closes_everything_the_domain_opened(mesh: LocalMesh) -> None:
    # GIVEN sales produces orders (one request granted, one pending) and consumes campaigns
    _register_orders(mesh)
    _register_campaigns(mesh)
    mesh.run_until_idle()
    granted = _ask(mesh, "marketing", "sales", "orders", ["daily"])
    pending = _ask(mesh, "marketing", "sales", "orders", ["orders"])
    own = _ask(mesh, "sales", "marketing", "campaigns", [])
    mesh.run_until_idle()
    assert (_state(mesh, granted), _state(mesh, pending), _state(mesh, own)) == (
        "APPROVED",
        "PENDING",
        "APPROVED",
    )
    daily = f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
    assert len(mesh.domain("marketing").query(daily)) == 6
    campaigns = f"SELECT * FROM {mesh.link_names('marketing', 'campaigns', 'daily')}"
    assert len(mesh.domain("sales").query(campaigns)) == 9
    assert _account_grants(mesh, MARKETING)

    # WHEN sales deregisters
    sales = mesh.domain("sales")
    sales.put(DomainDeregistrationRequested(domain="sales", account_id=SALES, reason="closing"))
    mesh.run_until_idle()

    # THEN its pending request ended, with the deregistration as the reason
    record = mesh.request(pending)
    assert record is not None
    assert record.state == "DENIED"
    assert record.decided_by == "central:deregistration"
    assert "domain sales was deregistered: closing" in (record.decision_reason or "")
    denied = [d for d in mesh.published("AccessDenied") if d["request_id"] == pending]
    assert len(denied) == 1
    assert denied[0]["recipients"] == [MARKETING]
    # ... consumers' access to its products is revoked, links removed
    assert _state(mesh, granted) == "REVOKED"
    revoked = [d for d in mesh.published("AccessRevoked") if d["request_id"] == granted]
    assert len(revoked) == 1
    assert MARKETING in revoked[0]["recipients"]
    with pytest.raises(PermissionError):
        mesh.domain("marketing").query(daily)
    assert not any(db.startswith("t_link_sales") for db in _databases(mesh, MARKETING))
    assert _account_grants(mesh, MARKETING) == []
    # ... its own access as a consumer is revoked too
    assert _state(mesh, own) == "REVOKED"
    with pytest.raises(PermissionError):
        sales.query(campaigns)
    # ... its products are marked deregistered, the registry keeps them (audit)
    product = mesh.product("sales", "orders")
    assert product is not None
    assert product.status == "DEREGISTERED"
    assert product.pii_columns == {"orders": ["email"]}
    # ... its central catalog database is deleted, and no grant of central names it any more
    assert central_database_name(mesh.name, "sales") not in _databases(mesh, CENTRAL)
    assert _account_grants(mesh, SALES) == []
    # ... a departed producer's later decision is refused, visibly, and changes nothing
    sales.put(AccessDecided(request_id=pending, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    assert _state(mesh, pending) == "DENIED"
    rejected = [
        e for e in mesh.timeline if e.detail_type == "AccessDecided" and e.status == "rejected"
    ]
    assert rejected
    assert "deregistered" in (rejected[-1].error or "")
    # the other domain's product is untouched
    campaigns_product = mesh.product("marketing", "campaigns")
    assert campaigns_product is not None
    assert campaigns_product.status == "ACTIVE"
    assert mesh.dead_letters(CENTRAL) == [
        d for d in mesh.dead_letters(CENTRAL) if d.body.get("detail-type") == "AccessDecided"
    ]


def test_a_deregistered_domain_can_register_again_and_starts_clean(mesh: LocalMesh) -> None:
    from meshkit.events.domains import DomainRegistrationRequested

    _register_orders(mesh)
    mesh.run_until_idle()
    sales = mesh.domain("sales")
    sales.put(DomainDeregistrationRequested(domain="sales", account_id=SALES))
    mesh.run_until_idle()
    sales.put(
        DomainRegistrationRequested(domain="sales", account_id=SALES, storage_uri=sales.storage_uri)
    )
    mesh.run_until_idle()
    _register_orders(mesh)
    mesh.run_until_idle()
    product = mesh.product("sales", "orders")
    assert product is not None
    assert product.status == "ACTIVE"
    rid = _ask(mesh, "marketing", "sales", "orders", ["daily"])
    mesh.run_until_idle()
    assert _state(mesh, rid) == "APPROVED"
    assert (
        len(
            mesh.domain("marketing").query(
                f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
            )
        )
        == 6
    )


# -- consumer refusal ------------------------------------------------------------------------
def test_consumer_refusal_ends_the_request_and_revokes_only_its_grants(mesh: LocalMesh) -> None:
    _register_orders(mesh)
    mesh.run_until_idle()
    marketing = mesh.domain("marketing")
    kept = _ask(mesh, "marketing", "sales", "orders", ["daily"])
    mesh.run_until_idle()
    assert _state(mesh, kept) == "APPROVED"
    before = {(g.resource.raw, g.permissions) for g in _account_grants(mesh, MARKETING)}
    # WHEN a grant for a principal outside marketing's allowlist arrives
    stranger = f"arn:aws:iam::{MARKETING}:role/not-a-consumer-principal"
    refused = _ask(mesh, "marketing", "sales", "orders", ["daily"], principal=stranger)
    mesh.run_until_idle()
    # THEN central moved it to LINK_FAILED, with the consumer's reason
    record = mesh.request(refused)
    assert record is not None
    assert record.state == "LINK_FAILED"
    assert "not among domain marketing's consumer principals" in (record.link_failed_reason or "")
    assert record.grants_revoked_at is not None
    # ... revoked what it granted for it, but not what the other request still uses
    after = {(g.resource.raw, g.permissions) for g in _account_grants(mesh, MARKETING)}
    assert after == before
    sql = f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
    assert len(marketing.query(sql)) == 6
    # ... and told the requester why
    notices = [d for d in mesh.published("AccessLinkFailed") if d.get("recipients")]
    assert [n["request_id"] for n in notices] == [refused]
    assert notices[0]["recipients"] == [MARKETING]
    note = _consumer_note(mesh, "marketing", "CLOSED", refused)
    assert note is not None
    assert note["state"] == "AccessLinkFailed"
    assert "consumer principals" in note["reason"]
    assert mesh.dead_letters() == []


def test_refusal_of_the_only_grant_leaves_the_account_without_it(mesh: LocalMesh) -> None:
    _register_orders(mesh)
    mesh.run_until_idle()
    stranger = f"arn:aws:iam::{MARKETING}:role/not-a-consumer-principal"
    refused = _ask(mesh, "marketing", "sales", "orders", ["daily"], principal=stranger)
    mesh.run_until_idle()
    assert _state(mesh, refused) == "LINK_FAILED"
    assert _account_grants(mesh, MARKETING) == []


# -- deprecation with a stated end -----------------------------------------------------------
def test_deprecation_keeps_access_until_its_stated_end_then_the_sweep_revokes(
    mesh: LocalMesh,
) -> None:
    _register_orders(mesh)
    mesh.run_until_idle()
    rid = _ask(mesh, "marketing", "sales", "orders", ["daily"])
    mesh.run_until_idle()
    end = mesh.clock() + timedelta(days=3)
    mesh.domain("sales").put(
        ProductDeprecated(
            domain="sales",
            product="orders",
            reason="replaced",
            successor="orders_v2",
            access_ends_at=end,
        )
    )
    mesh.run_until_idle()
    notice = mesh.published("ProductDeprecationNotice")
    assert len(notice) == 1
    assert notice[0]["recipients"] == [MARKETING]
    assert notice[0]["successor"] == "orders_v2"
    assert notice[0]["access_ends_at"].startswith(end.strftime("%Y-%m-%dT%H:%M"))
    sql = f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
    mesh.advance(timedelta(days=2))
    mesh.run_until_idle()
    assert _state(mesh, rid) == "APPROVED"
    assert len(mesh.domain("marketing").query(sql)) == 6
    mesh.advance(timedelta(days=1, hours=2))
    mesh.run_until_idle()
    record = mesh.request(rid)
    assert record is not None
    assert record.state == "REVOKED"
    assert "deprecated" in (record.revocation_reason or "")
    with pytest.raises(PermissionError):
        mesh.domain("marketing").query(sql)


def test_deprecation_at_once_revokes_granted_access(mesh: LocalMesh) -> None:
    _register_orders(mesh)
    mesh.run_until_idle()
    rid = _ask(mesh, "marketing", "sales", "orders", ["daily"])
    mesh.run_until_idle()
    mesh.domain("sales").put(
        ProductDeprecated(
            domain="sales", product="orders", reason="leak", access_ends_at=mesh.clock()
        )
    )
    mesh.run_until_idle()
    assert _state(mesh, rid) == "REVOKED"
    assert mesh.published("ProductDeprecationNotice") == []
    # Finished: nothing is due (the sweep does not read it again), it left the open-request
    # index and the consumer's open list, and DynamoDB's TTL prunes it after the retention.
    raw = _central_item(mesh, f"REQUEST#{rid}", "META")
    assert raw is not None
    assert raw["gsi1sk"].startswith("9999-12-31")
    assert "gsi2pk" not in raw
    assert int(raw["expires_at_epoch"]) > mesh.clock().timestamp() + 300 * 86400
    assert _central_item(mesh, "OPENBY#marketing", rid) is None
    with pytest.raises(PermissionError):
        mesh.domain("marketing").query(
            f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
        )


# -- a table added later ---------------------------------------------------------------------
def _account_holds_select(mesh: LocalMesh, account: str, table: str) -> bool:
    from meshkit.local.lake.sharing import parse_resource

    target = parse_resource(
        {
            "Table": {
                "CatalogId": CENTRAL,
                "DatabaseName": central_database_name(mesh.name, "sales"),
                "Name": table,
            }
        },
        CENTRAL,
    )
    return "SELECT" in mesh.lake.ledger.effective(account, target, issuer=CENTRAL)


def test_a_table_added_later_inherits_access_only_when_it_is_open(mesh: LocalMesh) -> None:
    """Tag mode: the whole-product grant matches ``mesh_class=open``, so a sensitive table
    added later is not covered and needs its own approval, an open one is. Named mode: a grant
    names its tables, so no table added later is covered."""
    sales = mesh.domain("sales")
    base = sales.storage_uri.rstrip("/")
    sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(DAY, 2, seed=2))
    daily = TableSpec(name="daily", location=f"{base}/orders/daily/")
    sales.put(ProductRegistrationRequested(domain="sales", product="orders", tables=[daily]))
    mesh.run_until_idle()
    rid = _ask(mesh, "marketing", "sales", "orders", [])  # the whole product
    mesh.run_until_idle()
    assert _state(mesh, rid) == "APPROVED"
    assert _account_holds_select(mesh, MARKETING, "orders_daily")
    # WHEN the producer adds a personal-data table and an open one
    sales.upload("products/orders/orders/part-0.parquet", orders_parquet(DAY, 10, seed=1))
    sales.upload("products/orders/weekly/part-0.csv", daily_revenue_csv(DAY, 2, seed=3))
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="orders",
            tables=[
                daily,
                TableSpec(name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]),
                TableSpec(name="weekly", location=f"{base}/orders/weekly/"),
            ],
        )
    )
    mesh.run_until_idle()
    # THEN the personal data is not readable on the earlier grant, in either mode
    assert not _account_holds_select(mesh, MARKETING, "orders")
    producer = mesh.registry.domain("sales")
    assert producer is not None
    tag_mode = producer.sharing_mode == "tag"
    # ... the open table is inherited by the tag grant (once its crawl made it open)
    assert _account_holds_select(mesh, MARKETING, "orders_weekly") is tag_mode
    assert _account_holds_select(mesh, MARKETING, "orders_daily")
    # ... and the sensitive table needs its own approval
    again = _ask(mesh, "marketing", "sales", "orders", ["orders"])
    mesh.run_until_idle()
    assert _state(mesh, again) == "PENDING"
    mesh.domain("sales").put(AccessDecided(request_id=again, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    assert _state(mesh, again) == "APPROVED"
    assert _account_holds_select(mesh, MARKETING, "orders")
