"""Trust and lifecycle rules in the local mesh: classification fails closed, shared grants are
counted, lifecycle ends close what they opened (both sharing modes where sharing is involved)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessRequested, AccessRevoked
from meshkit.events.products import ProductDeprecated, ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


@pytest.fixture(params=["named", "tag"])
def mesh(request: Any) -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=3) as m:
        m.add_domain("sales", account=SALES, sharing_mode=request.param)
        m.add_domain("marketing", account=MARKETING)
        m.run_until_idle()
        yield m


def _settle_without_crawls(mesh: LocalMesh) -> None:
    """Deliver every queued event but run no crawl: the state before the first crawl lands."""
    while mesh.delivery.round():
        pass


def _product(
    mesh: LocalMesh, *, corrupt: bool = False, sensitive: bool | None = None
) -> ProductRegistrationRequested:
    sales = mesh.domain("sales")
    day = date(2026, 11, 1)
    data = b"PAR1 not parquet" if corrupt else orders_parquet(day, 10, seed=1)
    sales.upload("products/orders/orders/part-0.parquet", data)
    sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(day, 2, seed=2))
    base = sales.storage_uri.rstrip("/")
    return ProductRegistrationRequested(
        domain="sales",
        product="orders",
        tables=[
            TableSpec(name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]),
            TableSpec(name="daily", location=f"{base}/orders/daily/", sensitive=sensitive),
        ],
    )


def _ask(mesh: LocalMesh, tables: list[str], rid: str | None = None) -> str:
    marketing = mesh.domain("marketing")
    rid = rid or f"req-{uuid.uuid4().hex[:10]}"
    marketing.put(
        AccessRequested(
            request_id=rid,
            consumer_domain="marketing",
            producer_domain="sales",
            product="orders",
            tables=tables,
            principals=[marketing.principal("analyst")],
            purpose="testing",
        )
    )
    return rid


def _state(mesh: LocalMesh, rid: str) -> str:
    record = mesh.request(rid)
    assert record is not None
    return record.state


# -- classification fails closed -------------------------------------------------------------
def test_declared_pii_counts_before_the_first_crawl(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(_product(mesh))
    _settle_without_crawls(mesh)
    product = mesh.product("sales", "orders")
    assert product is not None
    assert product.last_crawl is None  # no crawl has landed yet
    pii = _ask(mesh, ["orders"])
    unknown = _ask(mesh, ["daily"])
    _settle_without_crawls(mesh)
    record = mesh.request(pii)
    assert record is not None
    assert record.state == "PENDING"
    assert "column orders.email is declared personal data" in (record.reasons or [])
    record = mesh.request(unknown)
    assert record is not None
    assert record.state == "PENDING"
    assert any("never crawled" in r for r in record.reasons or [])
    # Once the crawl has landed, the table without personal data is auto-granted.
    mesh.run_until_idle()
    later = _ask(mesh, ["daily"])
    mesh.run_until_idle()
    assert _state(mesh, later) == "APPROVED"
    # ... and the declared column stays sensitive although the crawl rewrote the columns.
    again = _ask(mesh, ["orders"])
    mesh.run_until_idle()
    assert _state(mesh, again) == "PENDING"


def test_failed_crawl_keeps_tables_sensitive(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(_product(mesh, corrupt=True))
    mesh.run_until_idle()
    product = mesh.product("sales", "orders")
    assert product is not None
    assert product.last_crawl is not None
    assert product.last_crawl.state == "FAILED"
    rid = _ask(mesh, ["daily"])
    mesh.run_until_idle()
    record = mesh.request(rid)
    assert record is not None
    assert record.state == "PENDING"
    assert any("last crawl failed" in r for r in record.reasons or [])
    with pytest.raises(PermissionError):
        mesh.domain("marketing").query(
            f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
        )


def test_explicitly_non_sensitive_table_is_auto_granted_before_its_crawl(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(_product(mesh, sensitive=False))
    _settle_without_crawls(mesh)
    rid = _ask(mesh, ["daily"])
    pii = _ask(mesh, ["orders"])
    _settle_without_crawls(mesh)
    assert _state(mesh, rid) == "APPROVED"
    assert _state(mesh, pii) == "PENDING"


# -- shared grants are counted ---------------------------------------------------------------
def _daily_only(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    day = date(2026, 11, 1)
    sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(day, 2, seed=2))
    base = sales.storage_uri.rstrip("/")
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="orders",
            tables=[TableSpec(name="daily", location=f"{base}/orders/daily/")],
        )
    )
    mesh.run_until_idle()


@pytest.mark.parametrize("whole_product", [True, False])
def test_revoking_one_of_two_requests_keeps_the_shared_grant(
    mesh: LocalMesh, whole_product: bool
) -> None:
    """Two active requests of one consumer rely on the same account grant (named: the table;
    tag mode, whole product: the same expression) and the same principal grant."""
    _daily_only(mesh)
    tables = [] if whole_product else ["daily"]
    first, second = _ask(mesh, tables), _ask(mesh, tables)
    mesh.run_until_idle()
    assert _state(mesh, first) == _state(mesh, second) == "APPROVED"
    marketing = mesh.domain("marketing")
    sql = f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
    assert len(marketing.query(sql)) == 6
    marketing.put(AccessRevoked(request_id=first, reason="done", revoked_by="analyst"))
    mesh.run_until_idle()
    assert _state(mesh, first) == "REVOKED"
    assert len(marketing.query(sql)) == 6  # the second request still needs the grants
    mesh.domain("sales").put(AccessRevoked(request_id=second, reason="over", revoked_by="owner"))
    mesh.run_until_idle()
    assert _state(mesh, second) == "REVOKED"
    with pytest.raises(PermissionError):
        marketing.query(sql)
    assert mesh.dead_letters() == []


# -- re-registration -------------------------------------------------------------------------
_WRITES = (
    "Put",
    "Update",
    "Create",
    "Delete",
    "Add",
    "Grant",
    "Revoke",
    "Start",
    "BatchWrite",
    "BatchDelete",
    "BatchCreate",
    "BatchUpdate",
    "TransactWrite",
)


def test_identical_reregistration_makes_no_write_call(mesh: LocalMesh) -> None:
    event = _product(mesh)
    sales = mesh.domain("sales")
    sales.put(event)
    mesh.run_until_idle()
    before = mesh.product("sales", "orders")
    again = event.model_copy(update={"correlation_id": None})
    with mesh.flow("again") as flow:
        sales.put(again)
        mesh.run_until_idle()
    writes = {
        op: n
        for op, n in flow.stats.calls_by_operation.items()
        if op.split(".")[-1].startswith(_WRITES) and op != "events.PutEvents"
    }
    # The runtime's idempotency record of the one handler call only (claimed, then completed;
    # no follow-up event, so no other handler runs): registry, catalog, LF are untouched.
    assert writes == {"dynamodb.PutItem": 2}, writes
    assert mesh.product("sales", "orders") == before


def test_reregistration_after_a_failed_crawl_crawls_again(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    event = _product(mesh, corrupt=True)
    sales.put(event)
    mesh.run_until_idle()
    failed = mesh.product("sales", "orders")
    assert failed is not None
    assert failed.last_crawl is not None
    assert failed.last_crawl.state == "FAILED"
    sales.upload(
        "products/orders/orders/part-0.parquet", orders_parquet(date(2026, 11, 1), 10, seed=1)
    )
    sales.put(event.model_copy(update={"correlation_id": None}))
    mesh.run_until_idle()
    fixed = mesh.product("sales", "orders")
    assert fixed is not None
    assert fixed.last_crawl is not None
    assert fixed.last_crawl.state == "SUCCEEDED"


# -- deprecation -----------------------------------------------------------------------------
def test_deprecation_ends_pending_requests_and_keeps_granted_access(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    sales.put(_product(mesh))
    mesh.run_until_idle()
    granted, pending = _ask(mesh, ["daily"]), _ask(mesh, ["orders"])
    mesh.run_until_idle()
    assert _state(mesh, granted) == "APPROVED"
    assert _state(mesh, pending) == "PENDING"
    sales.put(ProductDeprecated(domain="sales", product="orders", reason="replaced"))
    mesh.run_until_idle()
    record = mesh.request(pending)
    assert record is not None
    assert record.state == "DENIED"
    assert "deprecated" in (record.decision_reason or "")
    denied = [d for d in mesh.published("AccessDenied") if d["request_id"] == pending]
    assert len(denied) == 1
    assert "deprecated" in denied[0]["reason"]
    # A later decision by the producer is refused, visibly.
    sales.put(AccessDecided(request_id=pending, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    assert _state(mesh, pending) == "DENIED"
    assert any(e.detail_type == "AccessDecided" and e.status == "rejected" for e in mesh.timeline)
    # Access granted before the deprecation stays until it is revoked or ends.
    sql = f"SELECT * FROM {mesh.link_names('sales', 'orders', 'daily')}"
    assert len(mesh.domain("marketing").query(sql)) == 6


# -- request ids -----------------------------------------------------------------------------
def test_a_reused_request_id_is_rejected_visibly(mesh: LocalMesh) -> None:
    mesh.domain("sales").put(_product(mesh))
    mesh.run_until_idle()
    rid = _ask(mesh, ["orders"])
    mesh.run_until_idle()
    original = mesh.request(rid)
    assert original is not None
    assert original.state == "PENDING"
    reports = len(mesh.published("EventRejected"))
    # The same request sent again is the same request: no rejection.
    _ask(mesh, ["orders"], rid)
    mesh.run_until_idle()
    assert len(mesh.published("EventRejected")) == reports
    # The same id for other tables: rejected, naming the original; the original is untouched.
    _ask(mesh, ["daily"], rid)
    mesh.run_until_idle()
    new = mesh.published("EventRejected")[reports:]
    assert len(new) == 1
    assert new[0]["kind"] == "state"
    assert f"request id {rid} is already used" in new[0]["reason"]
    assert "differs in tables" in new[0]["reason"]
    assert mesh.request(rid) == original
