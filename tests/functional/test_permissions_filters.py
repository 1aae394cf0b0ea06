"""Row filters as code in the local mesh: the plan creates and updates data-cells filters, the
apply makes them before the grants on them, and the lake shows exactly the filtered cells.

The revenue table holds 5 days x 3 channels (web, app, store) of day, channel, orders, revenue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from test_flows import CENTRAL, SALES, _orders, _revenue

from meshkit.events.products import ProductRegistrationRequested, ProductSchemaUpdated, TableSpec
from meshkit.governance.engine import apply_file, plan_file
from meshkit.governance.handlers import permissions, with_mesh_tag_keys
from meshkit.governance.model import PersonasFile, PersonasFileError
from meshkit.governance.model import loads as load_text
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ANALYST = f"arn:aws:iam::{CENTRAL}:role/analyst"


def personas(expression: str, *, on_drift: str = "report", extra: str = "") -> str:
    return f"""
version: 1
personas:
  - name: analyst
    principals: [analyst]
    on_drift: {on_drift}
    rules:
      - database: t_sales
        tables: [revenue_*]
        columns: {{include: [day, channel, revenue]}}
        row_filter: {{name: web_only, expression: "{expression}"}}
        permissions: [SELECT, DESCRIBE]
      - database: t_sales
        tables: [orders]
        permissions: [DESCRIBE]{extra}
"""


def loads(text: str) -> PersonasFile:
    return with_mesh_tag_keys(load_text(text), "t")


@pytest.fixture(params=["named", "tag"])
def world(request: pytest.FixtureRequest) -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as mesh:
        mesh.add_domain("sales", account=SALES)
        mesh.run_until_idle()
        sales = mesh.domain("sales")
        base = sales.storage_uri.rstrip("/")
        for event in (_orders(sales, base), _revenue(sales, base, request.param)):
            sales.put(event)
        mesh.run_until_idle()
        yield mesh


def _clients(mesh: LocalMesh) -> tuple[Any, Any]:
    return mesh.central.client("glue"), mesh.central.client("lakeformation")


def _read(mesh: LocalMesh, table: str = "revenue_daily") -> tuple[list[str], list[Any]]:
    result = mesh.lake.query(CENTRAL, ANALYST, f"SELECT * FROM t_sales.{table} ORDER BY day")
    return result.columns, result.rows


def test_a_row_filter_is_created_applied_and_updated_from_the_file(world: LocalMesh) -> None:
    mesh = world
    glue, lf = _clients(mesh)
    file = loads(personas("channel = 'web'"))
    # GIVEN a plan that names the filter to create, before the grant on it
    plan = plan_file(file, glue, lf, CENTRAL).plan
    assert [(f.action, f.resource.describe()) for f in plan.filters] == [
        ("create", "t_sales.revenue_daily[web_only]")
    ]
    data = plan.as_json()
    assert data["filters"][0]["table_data"] == {
        "TableCatalogId": CENTRAL,
        "DatabaseName": "t_sales",
        "TableName": "revenue_daily",
        "Name": "web_only",
        "RowFilter": {"FilterExpression": "channel = 'web'"},
        "ColumnNames": ["channel", "day", "revenue"],
    }
    assert data["summary"]["filters_to_create"] == 1
    assert "+ t_sales.revenue_daily[web_only] (analyst): channel = 'web'" in plan.render()
    assert plan.as_json() == plan_file(file, glue, lf, CENTRAL).plan.as_json()  # stable
    # WHEN it is applied
    done = apply_file(file, glue, lf, CENTRAL)
    assert done.applied is not None
    assert done.applied.ok, (done.applied.failures, done.applied.filter_failures)
    assert [f.action for f in done.applied.filters] == ["create"]
    # THEN the analyst sees exactly the web rows and the three columns
    columns, rows = _read(mesh)
    assert columns == ["day", "channel", "revenue"]
    assert len(rows) == 5
    assert {r[1] for r in rows} == {"web"}
    assert plan_file(file, glue, lf, CENTRAL).plan.changes == 0
    # WHEN the expression changes in the file THEN the filter is updated, no grant changes
    wider = loads(personas("channel IN ('web', 'app')"))
    plan = plan_file(wider, glue, lf, CENTRAL).plan
    assert [(f.action, f.current and f.current.expression) for f in plan.filters] == [
        ("update", "channel = 'web'")
    ]
    assert not plan.grants
    assert not plan.revokes
    assert "~ t_sales.revenue_daily[web_only]" in plan.render()
    apply_file(wider, glue, lf, CENTRAL)
    _, rows = _read(mesh)
    assert sorted({r[1] for r in rows}) == ["app", "web"]
    assert len(rows) == 10
    again = plan_file(wider, glue, lf, CENTRAL).plan
    assert again.changes == 0
    assert not again.reported
    assert not again.filters


def test_a_filter_the_file_no_longer_names_is_reported_or_deleted_on_repair(
    world: LocalMesh,
) -> None:
    mesh = world
    glue, lf = _clients(mesh)
    apply_file(loads(personas("channel = 'web'")), glue, lf, CENTRAL)
    without = personas("x").split("      - database: t_sales\n        tables: [revenue_*]")[0]
    without += (
        "      - database: t_sales\n        tables: [orders]\n        permissions: [DESCRIBE]\n"
    )
    # GIVEN the rule removed, the persona reporting drift: the filter and its grant are reported
    plan = plan_file(loads(without), glue, lf, CENTRAL).plan
    assert [(f.action, f.personas) for f in plan.filters] == [("report", ("analyst",))]
    assert plan.filter_changes == []
    assert [c.resource.describe() for c in plan.reported] == [
        "t_sales.revenue_daily[web_only]",
        "t_sales.revenue_daily",
    ]
    assert len(_read(mesh)[1]) == 5  # nothing removed
    # WHEN the persona says repair THEN the grant is revoked and the filter deleted after it
    repair = without.replace("on_drift: report", "on_drift: repair")
    done = apply_file(loads(repair), glue, lf, CENTRAL)
    assert done.applied is not None
    assert done.applied.ok
    assert [f.action for f in done.applied.filters] == ["delete"]
    assert lf.list_data_cells_filter()["DataCellsFilters"] == []
    with pytest.raises(PermissionError):
        _read(mesh)
    assert plan_file(loads(repair), glue, lf, CENTRAL).plan.changes == 0


def test_a_filter_someone_else_is_granted_is_never_deleted(world: LocalMesh) -> None:
    mesh = world
    glue, lf = _clients(mesh)
    apply_file(loads(personas("channel = 'web'")), glue, lf, CENTRAL)
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": f"arn:aws:iam::{CENTRAL}:role/auditor"},
        Resource={
            "DataCellsFilter": {
                "TableCatalogId": CENTRAL,
                "DatabaseName": "t_sales",
                "TableName": "revenue_daily",
                "Name": "web_only",
            }
        },
        Permissions=["SELECT"],
    )
    repair = (
        personas("x", on_drift="repair").split(
            "      - database: t_sales\n        tables: [revenue_*]"
        )[0]
        + "      - database: t_sales\n        tables: [orders]\n        permissions: [DESCRIBE]\n"
    )
    plan = plan_file(loads(repair), glue, lf, CENTRAL).plan
    assert [f.action for f in plan.filters] == ["report"]
    assert [c.resource.describe() for c in plan.revokes] == [
        "t_sales.revenue_daily[web_only]",
        "t_sales.revenue_daily",
    ]


def test_conflicting_definitions_of_one_filter_are_refused(world: LocalMesh) -> None:
    glue, lf = _clients(world)
    other = """
  - name: other
    principals: [other]
    rules:
      - database: t_sales
        tables: [revenue_daily]
        row_filter: {name: web_only, expression: "channel = 'app'"}
        permissions: [SELECT]"""
    file = loads(personas("channel = 'web'", extra=other))
    with pytest.raises(PersonasFileError, match=r"web_only.*defined twice.*analyst, other"):
        plan_file(file, glue, lf, CENTRAL)
    assert lf.list_data_cells_filter()["DataCellsFilters"] == []


def test_a_new_table_gets_its_filter_within_one_event(world: LocalMesh) -> None:
    mesh = world
    glue, lf = _clients(mesh)
    text = personas("channel = 'web'").replace(
        "tables: [revenue_*]", "tables: [revenue_*, forecast_*]"
    )
    apply_file(loads(text), glue, lf, CENTRAL)
    mesh.central.client("ssm").put_parameter(
        Name="/t/permissions/personas", Value=text, Type="String", Overwrite=True
    )
    mesh.add_handler("central", [ProductSchemaUpdated], permissions)
    sales = mesh.domain("sales")
    sales.upload(
        "products/forecast/weekly/part-0.csv", daily_revenue_csv(date(2026, 11, 1), 4, seed=3)
    )
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="forecast",
            tables=[
                TableSpec(
                    name="weekly", location=f"{sales.storage_uri.rstrip('/')}/forecast/weekly/"
                )
            ],
        )
    )
    mesh.run_until_idle()
    runs = [e for e in mesh.timeline if e.group == "central.permissions"]
    assert [(e.detail_type, e.status) for e in runs] == [("ProductSchemaUpdated", "ok")]
    columns, rows = _read(mesh, "forecast_weekly")
    assert columns == ["day", "channel", "revenue"]
    assert {r[1] for r in rows} == {"web"}
    assert len(rows) == 4
    assert not mesh.dead_letters()
