"""Every core flow end to end in the local mesh: the handlers Lambda runs, on moto accounts."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessLinked, AccessRequested, AccessRevoked
from meshkit.events.domains import DomainDeregistrationRequested, DomainRegistrationRequested
from meshkit.events.products import (
    ProductDeprecated,
    ProductLinked,
    ProductRegistrationRequested,
    TableSpec,
)
from meshkit.handlers._common import central_database_name, link_database_name
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING, FINANCE, OUTSIDER = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
)


def _registry(mesh: LocalMesh) -> dict[str, dict[str, Any]]:
    ddb = mesh.central.client("dynamodb")
    table = mesh.central.config.registry_table
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        for raw in page["Items"]:
            items[raw["pk"]["S"]] = {k: next(iter(v.values())) for k, v in raw.items()}
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _ok(
    mesh: LocalMesh, detail_type: str, correlation_id: str | None = None, group: str | None = None
) -> int:
    return sum(
        1
        for e in mesh.timeline
        if e.detail_type == detail_type
        and e.status == "ok"
        and (correlation_id is None or e.correlation_id == correlation_id)
        and (group is None or e.group == group)
    )


def _rejected(mesh: LocalMesh, detail_type: str) -> list[Any]:
    return [e for e in mesh.timeline if e.detail_type == detail_type and e.status == "rejected"]


def _orders(domain: Any, base: str, *, corrupt: bool = False) -> ProductRegistrationRequested:
    day = date(2026, 11, 1)
    data = b"PAR1 this is not parquet" if corrupt else orders_parquet(day, 50, seed=1)
    domain.upload(f"products/orders/orders/dt={day.isoformat()}/part-0.parquet", data)
    return ProductRegistrationRequested(
        domain="sales",
        product="orders",
        tables=[TableSpec(name="orders", location=f"{base}/orders/orders/", pii_columns=["email"])],
    )


def _revenue(domain: Any, base: str, mode: str = "named") -> ProductRegistrationRequested:
    domain.upload(
        "products/revenue/daily/part-0.csv", daily_revenue_csv(date(2026, 11, 1), 5, seed=2)
    )
    return ProductRegistrationRequested(
        domain="sales",
        product="revenue",
        sharing_mode=mode,  # type: ignore[arg-type]
        tables=[TableSpec(name="daily", location=f"{base}/revenue/daily/")],
    )


@pytest.fixture
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as m:
        m.add_domain("sales", account=SALES)
        m.add_domain("marketing", account=MARKETING, principals=("analyst",))
        m.add_domain("finance", account=FINANCE, principals=("controller",))
        m.run_until_idle()
        yield m


@pytest.fixture
def products(mesh: LocalMesh) -> dict[str, ProductRegistrationRequested]:
    sales = mesh.domain("sales")
    base = sales.storage_uri.rstrip("/")
    out = {"orders": _orders(sales, base), "revenue": _revenue(sales, base)}
    for event in out.values():
        sales.put(event)
    mesh.run_until_idle()
    return out


def _request(mesh: LocalMesh, consumer: str, product: str, **kw: Any) -> AccessRequested:
    domain = mesh.domain(consumer)
    principal = "analyst" if consumer == "marketing" else "controller"
    return AccessRequested(
        request_id=f"req-{uuid.uuid4().hex[:12]}",
        consumer_domain=consumer,
        producer_domain="sales",
        product=product,
        principals=[domain.principal(principal)],
        purpose="testing",
        **kw,
    )


def _link(mesh: LocalMesh, product: str, table: str) -> str:
    db = central_database_name(mesh.name, "sales")
    return f"{link_database_name(mesh.name, db, product)}.{table}"


# -- onboarding ----------------------------------------------------------------------------
def test_onboarding_registers_domains_with_database_and_tag(mesh: LocalMesh) -> None:
    reg = _registry(mesh)
    assert {k for k in reg if k.startswith("DOMAIN#")} == {
        "DOMAIN#sales",
        "DOMAIN#marketing",
        "DOMAIN#finance",
    }
    glue = mesh.central.client("glue")
    names = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert {central_database_name("t", d) for d in ("sales", "marketing", "finance")} <= names
    # No IAMAllowedPrincipals default on the central databases: Lake Formation alone decides.
    database = glue.get_database(Name=central_database_name("t", "sales"))["Database"]
    assert database["CreateTableDefaultPermissions"] == []
    tag = mesh.central.client("lakeformation").get_lf_tag(TagKey="meshkit:t:domain")
    assert set(tag["TagValues"]) == {"sales", "marketing", "finance"}
    assert _ok(mesh, "DomainRegistered") == 3


def test_registration_for_another_account_is_rejected(mesh: LocalMesh) -> None:
    forged = DomainRegistrationRequested(
        domain="evil", account_id=SALES, storage_uri="s3://evil-bucket/products/"
    )
    mesh.domain("finance").put(forged)
    mesh.run_until_idle()
    assert "DOMAIN#evil" not in _registry(mesh)
    rejected = _rejected(mesh, "DomainRegistrationRequested")
    assert rejected
    assert "register" in (rejected[0].error or "")
    letters = [
        d
        for d in mesh.dead_letters(CENTRAL)
        if d.body.get("detail-type") == "DomainRegistrationRequested"
    ]
    assert letters, "a rejected event goes to the dead-letter queue with its reason"
    reports = mesh.published("EventRejected")
    assert any(r["event_detail_type"] == "DomainRegistrationRequested" for r in reports)
    assert all(r["kind"] == "authorisation" for r in reports)


def test_non_member_account_cannot_join(mesh: LocalMesh) -> None:
    mesh.put_from(
        OUTSIDER,
        DomainRegistrationRequested(
            domain="intruder", account_id=OUTSIDER, storage_uri="s3://x-bucket/p/"
        ),
    )
    mesh.run_until_idle()
    assert "DOMAIN#intruder" not in _registry(mesh)


def test_domain_name_taken_by_another_account(mesh: LocalMesh) -> None:
    mesh.domain("finance").put(
        DomainRegistrationRequested(
            domain="sales", account_id=FINANCE, storage_uri="s3://f-bucket/p/"
        )
    )
    mesh.run_until_idle()
    assert _registry(mesh)["DOMAIN#sales"]["account_id"] == SALES


def test_deregistration(mesh: LocalMesh) -> None:
    mesh.domain("finance").put(DomainDeregistrationRequested(domain="finance", account_id=FINANCE))
    mesh.run_until_idle()
    assert _registry(mesh)["DOMAIN#finance"]["status"] == "DEREGISTERED"
    assert _ok(mesh, "DomainDeregistered") == 1


# -- product registration ------------------------------------------------------------------
def test_product_registration_links_crawls_and_updates_schema(
    mesh: LocalMesh, products: dict[str, ProductRegistrationRequested]
) -> None:
    orders = products["orders"]
    # the producer links and crawls once (the erasure group also reads it: subject columns)
    assert _ok(mesh, "ProductRegistered", orders.correlation_id, "domain.producer") == 1
    assert _ok(mesh, "ProductLinked", orders.correlation_id) == 1
    assert _ok(mesh, "ProductSchemaUpdated", orders.correlation_id) == 1
    glue = mesh.central.client("glue")
    table = glue.get_table(DatabaseName=central_database_name("t", "sales"), Name="orders")["Table"]
    columns = {c["Name"]: c for c in table["StorageDescriptor"]["Columns"]}
    assert {"order_id", "email", "amount"} <= set(columns)
    assert columns["email"]["Parameters"]["pii_flag"] == "true", "pii flag survives the crawl"
    assert [k["Name"] for k in table.get("PartitionKeys", [])] == ["dt"]
    product = _registry(mesh)["PRODUCT#sales#orders"]
    assert product["last_crawl"]["state"]["S"] == "SUCCEEDED"


def test_reregistration_changes_only_what_changed(
    mesh: LocalMesh, products: dict[str, ProductRegistrationRequested]
) -> None:
    sales = mesh.domain("sales")
    base = sales.storage_uri.rstrip("/")
    again = products["orders"].model_copy(update={"correlation_id": str(uuid.uuid4())})
    sales.put(again)
    mesh.run_until_idle()
    # Identical, and crawled: nothing to write and nothing to tell the producer.
    assert _ok(mesh, "ProductRegistrationRequested", again.correlation_id) == 1
    assert not [
        e
        for e in mesh.published("ProductRegistered")
        if e["correlation_id"] == again.correlation_id
    ]
    sales.upload("products/orders/refunds/part-0.csv", b"order_id,amount\n1,2.5\n")
    grown = ProductRegistrationRequested(
        domain="sales",
        product="orders",
        tables=[*again.tables, TableSpec(name="refunds", location=f"{base}/orders/refunds/")],
    )
    sales.put(grown)
    mesh.run_until_idle()
    registered = [
        e
        for e in mesh.published("ProductRegistered")
        if e["correlation_id"] == grown.correlation_id
    ]
    assert registered[0]["changed_tables"] == ["orders_refunds"]
    assert _ok(mesh, "ProductSchemaUpdated", grown.correlation_id) == 1


def test_location_outside_domain_storage_is_rejected(mesh: LocalMesh) -> None:
    event = ProductRegistrationRequested(
        domain="sales",
        product="stolen",
        tables=[TableSpec(name="t", location="s3://someone-elses-bucket/data/")],
    )
    mesh.domain("sales").put(event)
    mesh.run_until_idle()
    assert "PRODUCT#sales#stolen" not in _registry(mesh)
    assert "outside" in (_rejected(mesh, "ProductRegistrationRequested")[0].error or "")


def test_product_registration_for_another_domain_is_rejected(mesh: LocalMesh) -> None:
    sales_base = mesh.domain("sales").storage_uri.rstrip("/")
    forged = ProductRegistrationRequested(
        domain="sales", product="fake", tables=[TableSpec(name="t", location=f"{sales_base}/fake/")]
    )
    mesh.domain("finance").put(forged)
    mesh.run_until_idle()
    assert "PRODUCT#sales#fake" not in _registry(mesh)
    assert _rejected(mesh, "ProductRegistrationRequested")


def test_forged_product_linked_is_rejected(
    mesh: LocalMesh, products: dict[str, ProductRegistrationRequested]
) -> None:
    mesh.domain("finance").put(
        ProductLinked(
            domain="sales",
            product="orders",
            link_database="x",
            crawler_name="x",
            crawl_started=True,
        )
    )
    mesh.run_until_idle()
    assert _rejected(mesh, "ProductLinked")
    assert _registry(mesh)["PRODUCT#sales#orders"]["crawler_name"] != "x"


def test_crawler_failure_is_reported_not_treated_as_success(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    event = _orders(sales, sales.storage_uri.rstrip("/"), corrupt=True)
    sales.put(event)
    mesh.run_until_idle()
    assert _ok(mesh, "ProductCrawlFailed", event.correlation_id) == 1
    assert _ok(mesh, "ProductSchemaUpdated", event.correlation_id) == 0
    product = _registry(mesh)["PRODUCT#sales#orders"]
    assert product["last_crawl"]["state"]["S"] == "FAILED"


# -- access --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["named", "tag"])
def test_auto_grant_for_non_sensitive_product_in_both_modes(mesh: LocalMesh, mode: str) -> None:
    sales = mesh.domain("sales")
    sales.put(_revenue(sales, sales.storage_uri.rstrip("/"), mode))
    mesh.run_until_idle()
    request = _request(mesh, "finance", "revenue")
    mesh.domain("finance").put(request)
    mesh.run_until_idle()
    assert _ok(mesh, "ApprovalRequested", request.correlation_id) == 0
    assert _ok(mesh, "AccessLinked", request.correlation_id) == 1
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["granted_mode"] == mode
    result = mesh.domain("finance").query(
        f"SELECT * FROM {_link(mesh, 'revenue', 'revenue_daily')}"
    )
    assert len(result.rows) == 15


@pytest.mark.parametrize("mode", ["named", "tag"])
def test_pii_request_needs_producer_approval_in_both_modes(mesh: LocalMesh, mode: str) -> None:
    sales = mesh.domain("sales")
    event = _orders(sales, sales.storage_uri.rstrip("/"))
    sales.put(event.model_copy(update={"sharing_mode": mode}))
    mesh.run_until_idle()
    marketing = mesh.domain("marketing")
    request = _request(mesh, "marketing", "orders")
    marketing.put(request)
    mesh.run_until_idle()
    assert _ok(mesh, "ApprovalRequested", request.correlation_id) == 1
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "PENDING"
    with pytest.raises(PermissionError):
        marketing.query(f"SELECT * FROM {_link(mesh, 'orders', 'orders')}")
    sales.put(AccessDecided(request_id=request.request_id, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    assert _ok(mesh, "AccessLinked", request.correlation_id) == 1
    assert len(marketing.query(f"SELECT * FROM {_link(mesh, 'orders', 'orders')}").rows) == 50
    # Revocation by the producer removes grants and links.
    sales.put(AccessRevoked(request_id=request.request_id, reason="done", revoked_by="sales"))
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "REVOKED"
    with pytest.raises(PermissionError):
        marketing.query(f"SELECT * FROM {_link(mesh, 'orders', 'orders')}")


def _pending(mesh: LocalMesh) -> AccessRequested:
    request = _request(mesh, "marketing", "orders")
    mesh.domain("marketing").put(request)
    mesh.run_until_idle()
    return request


def test_denial_reaches_consumer(mesh: LocalMesh, products: dict[str, Any]) -> None:
    request = _pending(mesh)
    mesh.domain("sales").put(
        AccessDecided(
            request_id=request.request_id, approved=False, decided_by="owner", reason="no"
        )
    )
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "DENIED"
    assert _ok(mesh, "AccessDenied", request.correlation_id) == 1


@pytest.mark.parametrize("decider", ["marketing", "finance"])
def test_approval_by_non_owner_is_rejected(
    mesh: LocalMesh, products: dict[str, Any], decider: str
) -> None:
    request = _pending(mesh)
    mesh.domain(decider).put(
        AccessDecided(request_id=request.request_id, approved=True, decided_by="me")
    )
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "PENDING"
    assert "may not decide" in (_rejected(mesh, "AccessDecided")[0].error or "")


def test_second_decision_is_rejected(mesh: LocalMesh, products: dict[str, Any]) -> None:
    request = _pending(mesh)
    sales = mesh.domain("sales")
    sales.put(AccessDecided(request_id=request.request_id, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    sales.put(
        AccessDecided(
            request_id=request.request_id, approved=False, decided_by="owner", reason="oops"
        )
    )
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "APPROVED"
    assert _rejected(mesh, "AccessDecided")


def test_approval_after_expiry_is_rejected_and_request_expires(
    mesh: LocalMesh, products: dict[str, Any]
) -> None:
    request = _pending(mesh)
    mesh.advance(timedelta(days=8))
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "EXPIRED"
    assert _ok(mesh, "AccessExpired", request.correlation_id) >= 1
    mesh.domain("sales").put(
        AccessDecided(request_id=request.request_id, approved=True, decided_by="owner")
    )
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "EXPIRED"
    assert _rejected(mesh, "AccessDecided")


def test_time_limited_access_is_revoked_when_it_ends(
    mesh: LocalMesh, products: dict[str, Any]
) -> None:
    request = _request(mesh, "finance", "revenue", duration_days=30)
    finance = mesh.domain("finance")
    finance.put(request)
    mesh.run_until_idle()
    assert len(finance.query(f"SELECT * FROM {_link(mesh, 'revenue', 'revenue_daily')}").rows) == 15
    mesh.advance(timedelta(days=31))
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "REVOKED"
    with pytest.raises(PermissionError):
        finance.query(f"SELECT * FROM {_link(mesh, 'revenue', 'revenue_daily')}")


def test_consumer_can_only_request_for_itself(mesh: LocalMesh, products: dict[str, Any]) -> None:
    forged = _request(mesh, "marketing", "revenue")  # marketing's principal...
    mesh.domain("finance").put(
        forged.model_copy(update={"consumer_domain": "finance"})
    )  # ...sent by finance
    mesh.run_until_idle()
    assert f"REQUEST#{forged.request_id}" not in _registry(mesh)
    assert _rejected(mesh, "AccessRequested")


def test_revocation_by_a_third_domain_is_rejected(
    mesh: LocalMesh, products: dict[str, Any]
) -> None:
    request = _request(mesh, "finance", "revenue")
    mesh.domain("finance").put(request)
    mesh.run_until_idle()
    mesh.domain("marketing").put(
        AccessRevoked(request_id=request.request_id, reason="x", revoked_by="marketing")
    )
    mesh.run_until_idle()
    assert _registry(mesh)[f"REQUEST#{request.request_id}"]["state"] == "APPROVED"
    assert _rejected(mesh, "AccessRevoked")


def test_forged_access_linked_is_rejected(mesh: LocalMesh, products: dict[str, Any]) -> None:
    request = _request(mesh, "finance", "revenue")
    mesh.domain("finance").put(request)
    mesh.run_until_idle()
    mesh.domain("marketing").put(
        AccessLinked(
            request_id=request.request_id,
            consumer_domain="finance",
            link_database="x",
            links=[],
            principals=[mesh.domain("marketing").principal("analyst")],
        )
    )
    mesh.run_until_idle()
    assert _rejected(mesh, "AccessLinked")


def test_deprecated_product_accepts_no_new_requests(
    mesh: LocalMesh, products: dict[str, Any]
) -> None:
    mesh.domain("sales").put(
        ProductDeprecated(domain="sales", product="revenue", reason="replaced")
    )
    mesh.run_until_idle()
    request = _request(mesh, "finance", "revenue")
    mesh.domain("finance").put(request)
    mesh.run_until_idle()
    assert f"REQUEST#{request.request_id}" not in _registry(mesh)
    assert "deprecated" in (_rejected(mesh, "AccessRequested")[0].error or "")


# -- bad input -----------------------------------------------------------------------------
def test_malformed_event_goes_to_dlq_with_event_rejected_and_changes_nothing(
    mesh: LocalMesh,
) -> None:
    before = _registry(mesh)
    sales = mesh.domain("sales")
    sales.client("events").put_events(
        Entries=[
            {
                "Source": "meshkit.products",
                "DetailType": "ProductRegistrationRequested",
                "Detail": json.dumps({"domain": "sales", "product": "Bad Name!", "tables": []}),
                "EventBusName": sales.bus,
            }
        ]
    )
    mesh.run_until_idle()
    assert _registry(mesh) == before
    letters = [
        d
        for d in mesh.dead_letters(CENTRAL)
        if d.body.get("detail-type") == "ProductRegistrationRequested"
    ]
    assert letters
    assert "product" in json.dumps(letters[0].attributes)
    assert mesh.published("EventRejected")


# -- robustness ----------------------------------------------------------------------------
def _final_state(mesh: LocalMesh) -> dict[str, Any]:
    reg = _registry(mesh)
    summary: dict[str, Any] = {}
    for key, item in reg.items():
        kind = key.split("#")[0]
        if kind == "REQUEST":
            summary[f"{item['consumer_domain']}->{item['product']}"] = item["state"]
        elif kind in ("DOMAIN", "PRODUCT"):
            summary[key] = item["status"]
    return summary


def _scenario(mesh: LocalMesh) -> dict[str, Any]:
    from meshkit.local.demo import run_demo

    result = run_demo(mesh, rows_per_day=20)
    state = _final_state(mesh)
    state["queries"] = [(q["domain"], q["allowed"], q["rows"]) for q in result.queries]
    state["ok"] = result.ok
    return state


@pytest.mark.slow
def test_demo_scenario_survives_duplicates_and_shuffled_delivery() -> None:
    with LocalMesh(name="demo", central_account=CENTRAL, seed=3, datazone=True) as calm:
        expected = _scenario(calm)
    with LocalMesh(name="demo", central_account=CENTRAL, seed=4, datazone=True) as noisy:
        noisy.faults.duplicate_delivery = True
        noisy.faults.shuffle = True
        got = _scenario(noisy)
    assert expected["ok"] is True
    assert got == expected


@pytest.mark.slow
def test_every_flow_completes_with_20_percent_throttling() -> None:
    with LocalMesh(name="demo", central_account=CENTRAL, seed=5, datazone=True) as mesh:
        mesh.faults.throttle({"glue": 0.2, "lakeformation": 0.2})
        state = _scenario(mesh)
    assert state["ok"] is True, state


def test_central_table_name_clash_between_products_is_rejected_before_any_change(
    mesh: LocalMesh,
) -> None:
    sales = mesh.domain("sales")
    base = sales.storage_uri.rstrip("/")
    sales.upload("products/a/b_c/part-0.csv", b"x\n1\n")
    first = ProductRegistrationRequested(
        domain="sales", product="a", tables=[TableSpec(name="b_c", location=f"{base}/a/b_c/")]
    )
    sales.put(first)
    mesh.run_until_idle()
    second = ProductRegistrationRequested(
        domain="sales",
        product="a_b",
        tables=[
            TableSpec(name="fine", location=f"{base}/a_b/fine/"),
            TableSpec(name="c", location=f"{base}/a_b/c/"),  # central name a_b_c is taken
        ],
    )
    sales.put(second)
    mesh.run_until_idle()
    assert "PRODUCT#sales#a_b" not in _registry(mesh)
    assert "already belong" in (_rejected(mesh, "ProductRegistrationRequested")[0].error or "")
    glue = mesh.central.client("glue")
    names = {
        t["Name"]
        for t in glue.get_tables(DatabaseName=central_database_name("t", "sales"))["TableList"]
    }
    assert "a_b_fine" not in names, "nothing of the rejected product was created"


def test_consumer_grants_only_its_configured_principals(
    mesh: LocalMesh, products: dict[str, Any]
) -> None:
    request = AccessRequested(
        request_id=f"req-{uuid.uuid4().hex[:12]}",
        consumer_domain="finance",
        producer_domain="sales",
        product="revenue",
        principals=[f"arn:aws:iam::{FINANCE}:role/not-a-consumer-principal"],
        purpose="testing",
    )
    mesh.domain("finance").put(request)
    mesh.run_until_idle()
    assert _ok(mesh, "AccessLinked", request.correlation_id) == 0
    # A refusal, not a rejection: the request ends LINK_FAILED (tests/functional/
    # test_lifecycle_ends.py follows the grants it made).
    record = mesh.request(request.request_id)
    assert record is not None
    assert record.state == "LINK_FAILED"
    assert "consumer principals" in (record.link_failed_reason or "")
    assert mesh.dead_letters() == []


def test_one_account_hosts_two_domains_each_acting_for_itself() -> None:
    with LocalMesh(name="t", central_account=CENTRAL, seed=2) as mesh:
        sales = mesh.add_domain("sales", account=SALES)
        mesh.add_domain("returns", account=SALES)
        mesh.run_until_idle()
        assert {"DOMAIN#sales", "DOMAIN#returns"} <= set(_registry(mesh))
        event = _orders(sales, sales.storage_uri.rstrip("/"))
        sales.put(event)
        mesh.run_until_idle()
        linked = [e for e in mesh.timeline if e.detail_type == "ProductLinked"]
        assert len(linked) == 1, "only the owning domain links and crawls its product"
        assert _ok(mesh, "ProductSchemaUpdated", event.correlation_id) == 1
        crawlers = sales.client("glue").get_crawlers()["Crawlers"]
        assert [c["Name"] for c in crawlers] == ["t-sales-orders"]
        assert not mesh.dead_letters()


def test_revocation_overtaking_its_grant_leaves_nothing_linked(mesh: LocalMesh) -> None:
    """Out-of-order delivery at the consumer: the late AccessGranted is not acted on."""
    from meshkit.events.access import AccessGranted

    marketing = mesh.domain("marketing")
    db = central_database_name("t", "sales")
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    revoked = AccessRevoked(
        request_id=request_id,
        reason="ended",
        revoked_by="sales",
        consumer_domain="marketing",
        recipients=[MARKETING],
    )
    granted = AccessGranted(
        request_id=request_id,
        consumer_domain="marketing",
        consumer_account=MARKETING,
        producer_domain="sales",
        product="orders",
        central_account=CENTRAL,
        central_database=db,
        tables=["orders"],
        principals=[marketing.principal("analyst")],
        permissions=["SELECT"],
        sharing_mode="named",
        recipients=[MARKETING],
    )
    mesh.put_from(CENTRAL, revoked)
    mesh.run_until_idle()
    mesh.put_from(CENTRAL, granted)
    mesh.run_until_idle()
    assert _ok(mesh, "AccessLinked") == 0
    names = {d["Name"] for d in marketing.client("glue").get_databases()["DatabaseList"]}
    assert link_database_name("t", db, "orders") not in names


def test_domain_past_the_lf_tag_value_limit_is_refused_and_nothing_is_created(
    mesh: LocalMesh,
) -> None:
    # Lake Formation holds at most 1000 values per LF-tag key; the fixture's mesh already has
    # three domains, so a limit of three stands in for the real one.
    mesh.lake.max_tag_values = 3
    mesh.add_domain("ops", account=OUTSIDER)
    mesh.run_until_idle()
    assert "DOMAIN#ops" not in _registry(mesh)
    rejected = _rejected(mesh, "DomainRegistrationRequested")
    assert "maximum" in (rejected[0].error or "")
    names = {d["Name"] for d in mesh.central.client("glue").get_databases()["DatabaseList"]}
    assert central_database_name("t", "ops") not in names
