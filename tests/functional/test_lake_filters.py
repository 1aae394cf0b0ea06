"""Data-cells filters in the local lake: stored with AWS's shapes and errors, enforced by queries.

The revenue table holds 5 days x 3 channels (web, app, store) of day, channel, orders, revenue.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_flows import CENTRAL, SALES, _revenue

from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ANALYST = f"arn:aws:iam::{CENTRAL}:role/analyst"
DB, TABLE = "t_sales", "revenue_daily"


@pytest.fixture(scope="module")
def lake() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as mesh:
        mesh.add_domain("sales", account=SALES)
        mesh.run_until_idle()
        sales = mesh.domain("sales")
        sales.put(_revenue(sales, sales.storage_uri.rstrip("/")))
        mesh.run_until_idle()
        yield mesh


@pytest.fixture
def lf(lake: LocalMesh) -> Any:
    client = lake.central.client("lakeformation")
    yield client
    # Each test starts with no filters and no grants on them.
    for found in client.list_data_cells_filter()["DataCellsFilters"]:
        client.delete_data_cells_filter(
            TableCatalogId=found["TableCatalogId"],
            DatabaseName=found["DatabaseName"],
            TableName=found["TableName"],
            Name=found["Name"],
        )


def _data(name: str, row: dict[str, Any], **columns: Any) -> dict[str, Any]:
    return {
        "TableCatalogId": CENTRAL,
        "DatabaseName": DB,
        "TableName": TABLE,
        "Name": name,
        "RowFilter": row,
        **(columns or {"ColumnWildcard": {}}),
    }


def _resource(name: str) -> dict[str, Any]:
    return {
        "DataCellsFilter": {
            "TableCatalogId": CENTRAL,
            "DatabaseName": DB,
            "TableName": TABLE,
            "Name": name,
        }
    }


def _grant(lf: Any, name: str, principal: str = ANALYST) -> None:
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": principal},
        Resource=_resource(name),
        Permissions=["SELECT"],
    )


def _rows(lake: LocalMesh, sql: str, principal: str = ANALYST) -> tuple[list[str], list[Any]]:
    result = lake.lake.query(CENTRAL, principal, sql)
    return result.columns, result.rows


def test_a_filter_is_stored_in_aws_shapes(lf: Any) -> None:
    lf.create_data_cells_filter(
        TableData=_data("web", {"FilterExpression": "channel = 'web'"}, ColumnNames=["day"])
    )
    got = lf.get_data_cells_filter(
        TableCatalogId=CENTRAL, DatabaseName=DB, TableName=TABLE, Name="web"
    )["DataCellsFilter"]
    assert got["RowFilter"] == {"FilterExpression": "channel = 'web'"}
    assert got["ColumnNames"] == ["day"]
    assert got["VersionId"]
    listed = lf.list_data_cells_filter(
        Table={"CatalogId": CENTRAL, "DatabaseName": DB, "Name": TABLE}
    )
    assert listed["DataCellsFilters"] == [got]
    with pytest.raises(ClientError) as dup:
        lf.create_data_cells_filter(TableData=_data("web", {"AllRowsWildcard": {}}))
    assert dup.value.response["Error"]["Code"] == "AlreadyExistsException"


def test_list_pages_with_next_token(lf: Any) -> None:
    for name in ("a", "b", "c"):
        lf.create_data_cells_filter(TableData=_data(name, {"AllRowsWildcard": {}}))
    first = lf.list_data_cells_filter(MaxResults=2)
    assert [f["Name"] for f in first["DataCellsFilters"]] == ["a", "b"]
    second = lf.list_data_cells_filter(MaxResults=2, NextToken=first["NextToken"])
    assert [f["Name"] for f in second["DataCellsFilters"]] == ["c"]
    assert "NextToken" not in second
    pages = lf.get_paginator("list_data_cells_filter").paginate(PaginationConfig={"PageSize": 1})
    assert [f["Name"] for p in pages for f in p["DataCellsFilters"]] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (
            _data("x", {"FilterExpression": "channel = 'web'; DROP TABLE t"}),
            "InvalidInputException",
        ),
        (_data("x", {"FilterExpression": "orders IN (SELECT 1)"}), "InvalidInputException"),
        (_data("x", {"FilterExpression": "lower(channel) = 'web'"}), "InvalidInputException"),
        (_data("x", {"FilterExpression": "orders = revenue"}), "InvalidInputException"),
        (_data("x", {"FilterExpression": "nope = 1"}), "InvalidInputException"),
        (_data("x", {"FilterExpression": "channel = 'web' OR"}), "InvalidInputException"),
        (_data("x", {}), "InvalidInputException"),
        (_data("x", {"AllRowsWildcard": {}}, ColumnNames=["nope"]), "InvalidInputException"),
        (
            {**_data("x", {"AllRowsWildcard": {}}), "TableName": "missing"},
            "EntityNotFoundException",
        ),
    ],
    ids=[
        "statement",
        "subquery",
        "function",
        "column-to-column",
        "unknown-column",
        "dangling-or",
        "no-row-filter",
        "unknown-column-name",
        "missing-table",
    ],
)
def test_bad_filters_are_refused_and_nothing_stored(lf: Any, data: Any, code: str) -> None:
    with pytest.raises(ClientError) as refused:
        lf.create_data_cells_filter(TableData=data)
    assert refused.value.response["Error"]["Code"] == code
    assert lf.list_data_cells_filter()["DataCellsFilters"] == []


def test_grant_on_a_missing_filter_fails_like_aws(lf: Any) -> None:
    with pytest.raises(ClientError) as single:
        _grant(lf, "ghost")
    assert single.value.response["Error"]["Code"] == "EntityNotFoundException"
    batch = lf.batch_grant_permissions(
        Entries=[
            {
                "Id": "e0",
                "Principal": {"DataLakePrincipalIdentifier": ANALYST},
                "Resource": _resource("ghost"),
                "Permissions": ["SELECT"],
            }
        ]
    )
    assert [f["Error"]["ErrorCode"] for f in batch["Failures"]] == ["EntityNotFoundException"]
    lf.create_data_cells_filter(TableData=_data("real", {"AllRowsWildcard": {}}))
    with pytest.raises(ClientError) as wrong:
        lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": ANALYST},
            Resource=_resource("real"),
            Permissions=["INSERT"],
        )
    assert wrong.value.response["Error"]["Code"] == "InvalidInputException"


def test_list_permissions_returns_filter_grants_in_aws_shape(lf: Any) -> None:
    lf.create_data_cells_filter(TableData=_data("web", {"FilterExpression": "channel = 'web'"}))
    _grant(lf, "web")
    rows = lf.list_permissions(Resource=_resource("web"))["PrincipalResourcePermissions"]
    assert [(r["Principal"], r["Resource"], r["Permissions"]) for r in rows] == [
        ({"DataLakePrincipalIdentifier": ANALYST}, _resource("web"), ["SELECT"])
    ]
    related = lf.list_permissions(
        Resource={"Table": {"CatalogId": CENTRAL, "DatabaseName": DB, "Name": TABLE}},
        IncludeRelated="TRUE",
    )["PrincipalResourcePermissions"]
    assert _resource("web") in [r["Resource"] for r in related]


def test_a_filter_shows_only_its_rows_and_columns(lake: LocalMesh, lf: Any) -> None:
    with pytest.raises(PermissionError):
        _rows(lake, f"SELECT * FROM {DB}.{TABLE}")
    lf.create_data_cells_filter(
        TableData=_data(
            "web",
            {"FilterExpression": "channel = 'web' AND orders >= 0"},
            ColumnWildcard={"ExcludedColumnNames": ["revenue"]},
        )
    )
    _grant(lf, "web")
    columns, rows = _rows(lake, f"SELECT * FROM {DB}.{TABLE} ORDER BY day")
    assert columns == ["day", "channel", "orders"]
    assert len(rows) == 5
    assert {r[1] for r in rows} == {"web"}
    # The user's SQL cannot reach around the filter.
    _, counted = _rows(lake, f"SELECT count(*) FROM {DB}.{TABLE} WHERE channel <> 'web'")
    assert counted == [(0,)]
    lf.update_data_cells_filter(
        TableData=_data(
            "web", {"FilterExpression": "channel IN ('web', 'app')"}, ColumnNames=["day", "channel"]
        )
    )
    columns, rows = _rows(lake, f"SELECT * FROM {DB}.{TABLE}")
    assert columns == ["day", "channel"]
    assert sorted({r[1] for r in rows}) == ["app", "web"]
    assert len(rows) == 10
    lf.update_data_cells_filter(TableData=_data("web", {"AllRowsWildcard": {}}))
    assert len(_rows(lake, f"SELECT * FROM {DB}.{TABLE}")[1]) == 15


def test_several_filters_combine_cell_by_cell(lake: LocalMesh, lf: Any) -> None:
    lf.create_data_cells_filter(
        TableData=_data("web", {"FilterExpression": "channel = 'web'"}, ColumnWildcard={})
    )
    lf.create_data_cells_filter(
        TableData=_data(
            "app", {"FilterExpression": "channel = 'app'"}, ColumnNames=["day", "channel"]
        )
    )
    _grant(lf, "web")
    _grant(lf, "app")
    columns, rows = _rows(lake, f"SELECT channel, revenue FROM {DB}.{TABLE}")
    assert columns == ["channel", "revenue"]
    assert sorted({r[0] for r in rows}) == ["app", "web"]
    # revenue is shown in the web rows (its filter includes it) and NULL in the app rows.
    assert all(r[1] is not None for r in rows if r[0] == "web")
    assert all(r[1] is None for r in rows if r[0] == "app")


def test_a_plain_grant_next_to_a_filter_shows_everything(lake: LocalMesh, lf: Any) -> None:
    lf.create_data_cells_filter(TableData=_data("web", {"FilterExpression": "channel = 'web'"}))
    _grant(lf, "web")
    reader = f"arn:aws:iam::{CENTRAL}:role/reader"
    _grant(lf, "web", reader)
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": reader},
        Resource={"Table": {"DatabaseName": DB, "Name": TABLE}},
        Permissions=["SELECT"],
    )
    assert len(_rows(lake, f"SELECT * FROM {DB}.{TABLE}", reader)[1]) == 15
    assert len(_rows(lake, f"SELECT * FROM {DB}.{TABLE}")[1]) == 5
    lf.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": reader},
        Resource={"Table": {"DatabaseName": DB, "Name": TABLE}},
        Permissions=["SELECT"],
    )


def test_deleting_a_filter_takes_its_grants(lake: LocalMesh, lf: Any) -> None:
    lf.create_data_cells_filter(TableData=_data("web", {"FilterExpression": "channel = 'web'"}))
    _grant(lf, "web")
    lf.delete_data_cells_filter(
        TableCatalogId=CENTRAL, DatabaseName=DB, TableName=TABLE, Name="web"
    )
    assert lf.list_permissions(Resource=_resource("web"))["PrincipalResourcePermissions"] == []
    with pytest.raises(PermissionError):
        _rows(lake, f"SELECT * FROM {DB}.{TABLE}")
    with pytest.raises(ClientError) as gone:
        lf.get_data_cells_filter(
            TableCatalogId=CENTRAL, DatabaseName=DB, TableName=TABLE, Name="web"
        )
    assert gone.value.response["Error"]["Code"] == "EntityNotFoundException"
