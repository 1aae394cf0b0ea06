"""Permissions as code in the local mesh: plan, apply, inherit, drift, in both sharing modes.

The lake simulation enforces what is granted: every test queries as the persona's principal.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from test_flows import CENTRAL, SALES, _orders, _revenue

from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.governance.engine import apply_file, plan_file
from meshkit.governance.handlers import with_mesh_tag_keys
from meshkit.governance.model import PersonasFile
from meshkit.governance.model import loads as load_text
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ANALYST = f"arn:aws:iam::{CENTRAL}:role/analyst"
ENGINEER = f"arn:aws:iam::{CENTRAL}:role/engineer"
RECORD = """
        processing_record:
          purpose: fraud investigation
          legal_basis: art. 6(1)(f) GDPR
          owner: dpo@example.com
          review_date: 2027-06-30
"""


def loads(text: str) -> PersonasFile:
    """The file as central's handlers read it in mesh t: mesh_product is the mesh's own key."""
    return with_mesh_tag_keys(load_text(text), "t")


def personas(mode: str, *, on_drift: str = "report") -> str:
    revenue_rule = (
        "      - lf_tags: {mesh_product: [revenue]}\n        permissions: [SELECT, DESCRIBE]\n"
        if mode == "tag"
        else "      - database: t_sales\n        tables: [revenue_*]\n"
        "        permissions: [SELECT, DESCRIBE]\n"
    )
    return f"""
version: 1
personas:
  - name: analyst
    principals: [analyst]
    on_drift: {on_drift}
    rules:
{revenue_rule}      - database: t_sales
        tables: [orders]
        permissions: [SELECT]
  - name: engineer
    principals: [{ENGINEER}]
    rules:
      - database: t_sales
        tables: ["*"]
        permissions: [ALL]
        grant_option: [SELECT]
        pii: true{RECORD}"""


@pytest.fixture(params=["named", "tag"])
def world(request: pytest.FixtureRequest) -> Any:
    mode = request.param
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as mesh:
        mesh.add_domain("sales", account=SALES)
        mesh.run_until_idle()
        sales = mesh.domain("sales")
        base = sales.storage_uri.rstrip("/")
        for event in (_orders(sales, base), _revenue(sales, base, mode)):
            sales.put(event)
        mesh.run_until_idle()
        yield mesh, mode


def _clients(mesh: LocalMesh) -> tuple[Any, Any]:
    return mesh.central.client("glue"), mesh.central.client("lakeformation")


def _columns(mesh: LocalMesh, principal: str, table: str) -> list[str]:
    return mesh.lake.query(CENTRAL, principal, f"SELECT * FROM t_sales.{table} LIMIT 1").columns


def test_plan_apply_and_replan_is_empty(world: Any) -> None:
    mesh, mode = world
    file = loads(personas(mode))
    glue, lf = _clients(mesh)
    first = plan_file(file, glue, lf, CENTRAL).plan
    assert first.grants
    assert not first.revokes
    assert [(r.persona, r.table, r.columns) for r in first.refused] == [
        ("analyst", "t_sales.orders", ("email",))
    ]
    assert "persona analyst" in first.render()
    assert "persona engineer" in first.render()
    assert first.as_json() == plan_file(file, glue, lf, CENTRAL).plan.as_json()  # stable
    done = apply_file(file, glue, lf, CENTRAL)
    assert done.applied is not None
    assert done.applied.ok
    assert done.applied.calls == 1  # all grants fit in one batch
    again = plan_file(file, glue, lf, CENTRAL).plan
    assert again.changes == 0
    assert not again.reported
    # Enforced by the lake: the analyst reads orders without the personal-data column.
    assert "email" not in _columns(mesh, ANALYST, "orders")
    assert "order_id" in _columns(mesh, ANALYST, "orders")
    assert _columns(mesh, ANALYST, "revenue_daily") == ["day", "channel", "orders", "revenue"]
    assert "email" in _columns(mesh, ENGINEER, "orders")  # pii: true with a record
    with pytest.raises(PermissionError):
        _columns(mesh, f"arn:aws:iam::{CENTRAL}:role/nobody", "orders")


def test_hand_made_grant_is_reported_not_removed_unless_repair(world: Any) -> None:
    mesh, mode = world
    glue, lf = _clients(mesh)
    apply_file(loads(personas(mode)), glue, lf, CENTRAL)
    by_hand = {
        "Principal": {"DataLakePrincipalIdentifier": ANALYST},
        "Resource": {"Table": {"DatabaseName": "t_sales", "Name": "orders"}},
        "Permissions": ["SELECT"],
    }
    lf.grant_permissions(**by_hand)
    stranger = {
        **by_hand,
        "Principal": {"DataLakePrincipalIdentifier": "arn:aws:iam::111111111111:role/other"},
    }
    lf.grant_permissions(**stranger)
    plan = plan_file(loads(personas(mode)), glue, lf, CENTRAL).plan
    assert plan.changes == 0
    assert [(c.principal, c.resource.describe(), c.permissions) for c in plan.reported] == [
        (ANALYST, "t_sales.orders", ("SELECT",))
    ]
    assert "email" in _columns(mesh, ANALYST, "orders")  # the hand-made grant still works
    repaired = apply_file(loads(personas(mode, on_drift="repair")), glue, lf, CENTRAL)
    assert repaired.applied is not None
    assert [c.resource.describe() for c in repaired.applied.revoked] == ["t_sales.orders"]
    assert "email" not in _columns(mesh, ANALYST, "orders")
    # The principal outside the file is never touched.
    assert "email" in _columns(mesh, "arn:aws:iam::111111111111:role/other", "orders")


def _deploy(mesh: LocalMesh, text: str) -> None:
    """The topology's central.permissions group, as CentralGovernance(permissions=...)."""
    mesh.deploy_permissions(load_text(text))


def test_new_table_is_granted_within_one_event_and_pii_refused(world: Any) -> None:
    mesh, mode = world
    text = personas(mode).replace("tables: [orders]", "tables: [orders, forecast_*]")
    glue, lf = _clients(mesh)
    apply_file(loads(text), glue, lf, CENTRAL)
    _deploy(mesh, text)
    sales = mesh.domain("sales")
    sales.upload(
        "products/forecast/weekly/part-0.csv", daily_revenue_csv(date(2026, 11, 1), 5, seed=3)
    )
    event = ProductRegistrationRequested(
        domain="sales",
        product="forecast",
        sharing_mode=mode,  # type: ignore[arg-type]
        tables=[
            TableSpec(
                name="weekly",
                location=f"{sales.storage_uri.rstrip('/')}/forecast/weekly/",
                pii_columns=["channel"],
            )
        ],
    )
    sales.put(event)
    mesh.run_until_idle()
    # Glue's CreateTable (the table has no columns yet: no read grant), then one
    # ProductSchemaUpdated, one handler run, one PermissionsApplied carrying the new grant.
    runs = [e for e in mesh.timeline if e.group == "central.permissions"]
    assert [(e.detail_type, e.status) for e in runs] == [
        ("Glue Data Catalog Database State Change", "ok"),
        ("ProductSchemaUpdated", "ok"),
    ]
    applied = mesh.published("PermissionsApplied")  # the Glue run applied nothing
    assert len(applied) == 1
    assert {c["resource"] for c in applied[0]["changes"]} >= {
        "t_sales.forecast_weekly(day,orders,revenue)"
    }
    columns = _columns(mesh, ANALYST, "forecast_weekly")
    assert "revenue" in columns
    assert "channel" not in columns
    assert "channel" in _columns(mesh, ENGINEER, "forecast_weekly")
    assert not mesh.dead_letters()


def test_reconcile_reports_drift_and_repairs_lost_grants(world: Any) -> None:
    mesh, mode = world
    text = personas(mode)
    glue, lf = _clients(mesh)
    apply_file(loads(text), glue, lf, CENTRAL)
    _deploy(mesh, text)
    # A grant lost (revoked by hand) and one added by hand.
    lf.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": ENGINEER},
        Resource={"Table": {"DatabaseName": "t_sales", "TableWildcard": {}}},
        Permissions=["ALL", "SELECT"],
        PermissionsWithGrantOption=["SELECT"],
    )
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYST},
        Resource={"Database": {"Name": "t_sales"}},
        Permissions=["CREATE_TABLE"],
    )
    mesh.advance(timedelta(hours=1))  # the reconcile's schedule (hourly by default) fires
    mesh.run_until_idle()
    drift = mesh.published("PermissionsDriftDetected")
    assert len(drift) == 1
    listed = {(d["action"], d["principal"], d["resource"]) for d in drift[0]["drift"]}
    assert listed == {
        ("grant", ENGINEER, "t_sales.*"),
        ("revoke", ANALYST, "t_sales"),
    }
    assert "email" in _columns(mesh, ENGINEER, "orders")  # repaired
    assert plan_file(loads(text), glue, lf, CENTRAL).plan.reported  # reported, left in place
    mesh.advance(timedelta(minutes=1))


def test_apply_retries_throttling_and_concurrent_modification(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a throttled Lake Formation that also fails a third of the batch entries with
    # ConcurrentModificationException in the 200 response, and a ListPermissions of 2 per page
    from meshkit.governance import state

    mesh, mode = world
    monkeypatch.setattr(state, "PAGE_SIZE", 2)
    file = loads(personas(mode))
    glue, lf = _clients(mesh)
    mesh.faults.throttle({"lakeformation": 0.3})
    mesh.faults.fail_lake_entries(0.34)
    slept: list[float] = []
    # WHEN the file is applied
    done = apply_file(file, glue, lf, CENTRAL, sleep=slept.append)
    mesh.faults.throttle(None)
    mesh.faults.fail_lake_entries(None)
    # THEN the failed entries were retried alone, and the result is the file's state
    assert done.applied is not None
    assert done.applied.ok, done.applied.failures
    injected = mesh.faults.injected
    assert injected["lakeformation.BatchGrantPermissions.ConcurrentModificationException"] >= 1
    assert any(k.startswith("lakeformation.") and k.count(".") == 1 for k in injected)
    assert done.applied.retries >= 1
    assert slept
    assert done.applied.calls == 1 + done.applied.retries
    assert len(done.applied.granted) == done.plan.changes
    again = plan_file(file, glue, lf, CENTRAL)
    assert again.plan.changes == 0
    assert again.read_calls > 1 + len(state.RESOURCE_TYPES)  # the pages were followed
    assert "email" in _columns(mesh, ENGINEER, "orders")
