"""The typed registry read API, through the local mesh: domains, products, requests, names."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessRequested
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet
from meshkit.registry import (
    DomainRecord,
    ProductRecord,
    RequestRecord,
    consumer_link_database_name,
    consumer_link_table_name,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


@pytest.fixture(params=["named", "tag"])
def mesh(request: Any) -> Any:
    mode = request.param
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as m:
        sales = m.add_domain("sales", account=SALES, sharing_mode=mode)
        m.add_domain("marketing", account=MARKETING)
        m.run_until_idle()
        day = date(2026, 11, 1)
        sales.upload("products/orders/orders/part-0.parquet", orders_parquet(day, 20, seed=1))
        sales.upload("products/orders/lines/part-0.csv", daily_revenue_csv(day, 3, seed=2))
        base = sales.storage_uri.rstrip("/")
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                tables=[
                    TableSpec(
                        name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]
                    ),
                    TableSpec(name="lines", location=f"{base}/orders/lines/"),
                ],
            )
        )
        m.run_until_idle()
        yield m


def _ask(mesh: LocalMesh, rid: str, tables: list[str]) -> None:
    marketing = mesh.domain("marketing")
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
    mesh.run_until_idle()


def test_domains_and_products_are_typed_records(mesh: LocalMesh) -> None:
    domains = mesh.registered_domains()
    assert [d.domain for d in domains] == ["marketing", "sales"]
    assert all(isinstance(d, DomainRecord) and d.active for d in domains)
    assert mesh.registry.domains(account=SALES)[0].domain == "sales"
    assert mesh.registry.domain("nobody") is None

    product = mesh.product("sales", "orders")
    assert isinstance(product, ProductRecord)
    assert product.status == "ACTIVE"
    assert product.producer_account == SALES
    assert product.table("orders").pii_columns == ["email"]
    assert product.table("orders_lines").name == "lines"
    assert product.pii_columns == {"orders": ["email"]}
    assert product.last_crawl is not None
    assert product.last_crawl.state == "SUCCEEDED"
    assert product.schema_ is not None
    assert {c.name for c in product.schema_[0].columns} >= {"email"}
    assert [p.product for p in mesh.registry.products("sales")] == ["orders"]
    assert [p.product for p in mesh.registry.products()] == ["orders"]
    assert mesh.product("sales", "nothing") is None


def test_requests_by_id_state_consumer_and_product(mesh: LocalMesh) -> None:
    _ask(mesh, "req-lines", ["lines"])  # not sensitive: auto-granted
    _ask(mesh, "req-orders", ["orders"])  # a declared PII column: pending
    granted, pending = mesh.request("req-lines"), mesh.request("req-orders")
    assert isinstance(granted, RequestRecord)
    assert isinstance(pending, RequestRecord)
    assert granted.state == "APPROVED"
    assert granted.decided_by == "policy:auto"
    assert granted.grants
    assert granted.linked_at is not None
    assert pending.state == "PENDING"
    assert pending.sensitive
    assert pending.expires_at is not None
    assert mesh.request("req-unknown") is None
    reg = mesh.registry
    assert [r.request_id for r in reg.requests(state="PENDING")] == ["req-orders"]
    assert {r.request_id for r in reg.requests(consumer="marketing")} == {"req-lines", "req-orders"}
    assert {r.request_id for r in reg.requests(consumer=MARKETING)} == {"req-lines", "req-orders"}
    assert reg.requests(consumer="sales") == []
    assert len(reg.requests(product=("sales", "orders"))) == 2
    assert reg.requests(product=("sales", "other")) == []
    mesh.domain("sales").put(
        AccessDecided(request_id="req-orders", approved=False, reason="no", decided_by="owner")
    )
    mesh.run_until_idle()
    denied = mesh.request("req-orders")
    assert denied is not None
    assert denied.state == "DENIED"
    assert denied.decision_reason == "no"


def test_registry_reads_are_not_counted_in_flows(mesh: LocalMesh) -> None:
    with mesh.flow("reads") as flow:
        mesh.registered_domains()
        mesh.product("sales", "orders")
    assert flow.stats.api_calls == 0


def test_public_names_are_what_the_consumer_queries(mesh: LocalMesh) -> None:
    _ask(mesh, "req-lines", ["lines"])
    database = consumer_link_database_name("t", "sales", "orders")
    table = consumer_link_table_name("orders", "lines")
    assert mesh.link_names("sales", "orders") == database
    assert mesh.link_names("sales", "orders", "lines") == f"{database}.{table}"
    record = mesh.request("req-lines")
    assert record is not None
    assert record.link_database == database
    rows = mesh.domain("marketing").query(f"SELECT * FROM {database}.{table}")
    assert len(rows) == 9  # 3 days x 3 channels
