"""Glue's catalog event as an inheritance trigger: a table created in central's catalog gets the
personas' grants within that one event (the local lake sends the event as AWS does)."""

from __future__ import annotations

from typing import Any

import pytest
from test_flows import CENTRAL, SALES, _orders

from meshkit.events.aws import GlueDataCatalogDatabaseStateChange
from meshkit.governance.handlers import permissions
from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ANALYST = f"arn:aws:iam::{CENTRAL}:role/analyst"
FILE = """
version: 1
personas:
  - name: analyst
    principals: [analyst]
    rules:
      - database: t_sales
        tables: ["extra_*", "orders_*"]
        permissions: [SELECT]
"""


@pytest.fixture
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as m:
        m.add_domain("sales", account=SALES)
        m.run_until_idle()
        m.central.client("ssm").put_parameter(
            Name="/t/permissions/personas", Value=FILE, Type="String", Overwrite=True
        )
        m.add_handler("central", [GlueDataCatalogDatabaseStateChange], permissions)
        yield m


def _table(name: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": columns},
        "PartitionKeys": [],
    }


def _runs(mesh: LocalMesh) -> list[tuple[str, str]]:
    return [(e.detail_type, e.status) for e in mesh.timeline if e.group == "central.permissions"]


def test_a_table_created_in_central_is_granted_within_its_glue_event(mesh: LocalMesh) -> None:
    glue = mesh.central.client("glue")
    # GIVEN a table created by hand in central's catalog, one column flagged personal data
    glue.create_table(
        DatabaseName="t_sales",
        TableInput=_table(
            "extra_notes",
            [
                {"Name": "id", "Type": "bigint"},
                {"Name": "author", "Type": "string", "Parameters": {"pii_flag": "true"}},
            ],
        ),
    )
    mesh.run_until_idle()
    # THEN one run of the permissions router, on Glue's event, granted the table's other column
    assert _runs(mesh) == [("Glue Data Catalog Database State Change", "ok")]
    applied = mesh.published("PermissionsApplied")
    assert [c["resource"] for a in applied for c in a["changes"]] == ["t_sales.extra_notes(id)"]
    result = mesh.lake.query(CENTRAL, ANALYST, "SELECT * FROM t_sales.extra_notes")
    assert result.columns == ["id"]
    assert not mesh.dead_letters()


def test_a_table_without_a_schema_is_not_readable_until_its_crawl(mesh: LocalMesh) -> None:
    # GIVEN a product registered: central creates its table before the first crawl
    sales = mesh.domain("sales")
    sales.put(_orders(sales, sales.storage_uri.rstrip("/")))
    mesh.run_until_idle()
    runs = _runs(mesh)
    # THEN Glue's event for the new table ran, but granted nothing it cannot yet judge (the
    # email column's personal-data flag arrives with the schema, through ProductSchemaUpdated)
    assert ("Glue Data Catalog Database State Change", "ok") in runs
    granted = [c["resource"] for a in mesh.published("PermissionsApplied") for c in a["changes"]]
    assert not [r for r in granted if r == "t_sales.orders_orders"]
    with pytest.raises(PermissionError, match="orders_orders"):
        mesh.lake.query(CENTRAL, ANALYST, "SELECT * FROM t_sales.orders_orders")
    assert not mesh.dead_letters()


def test_deletes_and_other_changes_plan_nothing(mesh: LocalMesh) -> None:
    glue = mesh.central.client("glue")
    glue.create_database(DatabaseInput={"Name": "scratch"})
    glue.create_table(
        DatabaseName="scratch", TableInput=_table("x", [{"Name": "a", "Type": "int"}])
    )
    glue.delete_table(DatabaseName="scratch", Name="x")
    mesh.run_until_idle()
    assert _runs(mesh) == [("Glue Data Catalog Database State Change", "ok")] * 3
    assert mesh.published("PermissionsApplied") == []
