"""The local query engine takes ordinary SQL over linked tables (aliases, joins, CTEs,
information_schema) and still checks every table a query touches, in both sharing modes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from meshkit.events.access import AccessDecided, AccessRequested
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"
DAY = date(2026, 11, 1)


@pytest.fixture(scope="module", params=["named", "tag"])
def mesh(request: Any) -> Any:
    """sales.orders (``orders`` with PII, ``daily``, ``weekly``); marketing was granted
    ``daily`` and ``weekly`` but not ``orders``."""
    with LocalMesh(name="q", central_account=CENTRAL, seed=2) as m:
        sales = m.add_domain("sales", account=SALES, sharing_mode=request.param)
        marketing = m.add_domain("marketing", account=MARKETING)
        m.run_until_idle()
        sales.upload("products/orders/orders/part-0.parquet", orders_parquet(DAY, 10, seed=1))
        sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(DAY, 2, seed=2))
        sales.upload("products/orders/weekly/part-0.csv", daily_revenue_csv(DAY, 3, seed=3))
        base = sales.storage_uri.rstrip("/")
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                tables=[
                    TableSpec(
                        name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]
                    ),
                    TableSpec(name="daily", location=f"{base}/orders/daily/"),
                    TableSpec(name="weekly", location=f"{base}/orders/weekly/"),
                ],
            )
        )
        m.run_until_idle()
        for tables in (["daily"], ["weekly"]):
            marketing.put(
                AccessRequested(
                    request_id=f"req-{uuid.uuid4().hex[:10]}",
                    consumer_domain="marketing",
                    producer_domain="sales",
                    product="orders",
                    tables=tables,
                    principals=[marketing.principal("analyst")],
                    purpose="testing",
                )
            )
        m.run_until_idle()
        yield m


def _names(mesh: LocalMesh) -> dict[str, str]:
    return {t: mesh.link_names("sales", "orders", t) for t in ("orders", "daily", "weekly")}


def test_aliases_joins_and_ctes_over_linked_tables(mesh: LocalMesh) -> None:
    n = _names(mesh)
    marketing = mesh.domain("marketing")
    assert len(marketing.query(f"SELECT d.* FROM {n['daily']} AS d")) == 6
    joined = marketing.query(
        f"SELECT count(*) FROM {n['daily']} d JOIN {n['weekly']} w ON d.day = w.day"
    )
    assert joined.rows[0][0] > 0
    cte = marketing.query(
        f"WITH both_tables AS (SELECT day FROM {n['daily']} UNION ALL "
        f"SELECT day FROM {n['weekly']}) SELECT count(*) FROM both_tables"
    )
    assert cte.rows == [(6 + 9,)]
    sub = marketing.query(
        f"SELECT count(*) FROM {n['daily']} WHERE day IN (SELECT day FROM {n['weekly']})"
    )
    assert sub.rows[0][0] == 6


def test_a_query_touching_one_table_not_granted_is_refused_whole(mesh: LocalMesh) -> None:
    n = _names(mesh)
    marketing = mesh.domain("marketing")
    with pytest.raises(PermissionError) as refused:
        marketing.query(
            f"WITH o AS (SELECT * FROM {n['orders']}) SELECT * FROM {n['daily']} d JOIN o ON true"
        )
    message = str(refused.value)
    assert n["orders"] in message
    assert n["daily"] not in message  # only what was refused is named


def test_information_schema_lists_what_the_principal_can_read(mesh: LocalMesh) -> None:
    n = _names(mesh)
    marketing = mesh.domain("marketing")
    tables = marketing.query(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1"
    )
    assert [r[0] for r in tables.rows] == sorted([n["daily"], n["weekly"]])
    columns = marketing.query(
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_name = '{n['daily'].split('.')[1]}'"
    )
    assert sorted(r[0] for r in columns.rows) == ["channel", "day", "orders", "revenue"]
    # The producer-side decision opens the PII table: it shows up too.
    rid = f"req-{uuid.uuid4().hex[:10]}"
    marketing.put(
        AccessRequested(
            request_id=rid,
            consumer_domain="marketing",
            producer_domain="sales",
            product="orders",
            tables=["orders"],
            principals=[marketing.principal("analyst")],
            purpose="testing",
        )
    )
    mesh.run_until_idle()
    mesh.domain("sales").put(AccessDecided(request_id=rid, approved=True, decided_by="owner"))
    mesh.run_until_idle()
    listed = marketing.query(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
    )
    assert n["orders"] in {r[0] for r in listed.rows}
