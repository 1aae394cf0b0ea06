"""The query engine: rows only through links, an account grant and a principal grant."""

from __future__ import annotations

import pytest
from test_lake_support import (
    ANALYST,
    CENTRAL,
    CONSUMER,
    Lake,
    central_catalog,
    create_crawler,
    grant,
    parquet_bytes,
    producer_setup,
    put_objects,
    table_resource,
)

PREFIX = "products/orders/orders"
ORDERS = {
    "order_id": [1, 2, 3],
    "email": ["a@x.io", "b@x.io", "c@x.io"],
    "amount": [9.5, 12.0, 3.0],
}


@pytest.fixture
def crawled(lake: Lake) -> Lake:
    """Central's orders table crawled from two partitions; the consumer linked it (named mode)."""
    central_catalog(lake)
    producer_setup(lake)
    create_crawler(lake)
    put_objects(
        lake,
        {
            f"{PREFIX}/dt=2026-01-01/part-0.parquet": parquet_bytes(ORDERS),
            f"{PREFIX}/dt=2026-01-02/part-0.parquet": parquet_bytes(
                {k: v[:1] for k, v in ORDERS.items()}
            ),
        },
    )
    lake.client("222222222222", "glue").start_crawler(Name="t-sales-orders")
    lake.sim.run_pending_crawls()
    glue = lake.client(CONSUMER, "glue")
    glue.create_database(DatabaseInput={"Name": "mkt_sales"})
    glue.create_table(
        DatabaseName="mkt_sales",
        TableInput={
            "Name": "orders",
            "TargetTable": {"CatalogId": CENTRAL, "DatabaseName": "sales", "Name": "orders"},
        },
    )
    return lake


def share_with_consumer(lake: Lake) -> None:
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"], ["SELECT", "DESCRIBE"])
    lake.accept_all(CONSUMER)
    grant(lake, CONSUMER, ANALYST, table_resource(), ["SELECT"])


def test_an_allowed_query_returns_rows_with_partition_columns(crawled: Lake) -> None:
    share_with_consumer(crawled)

    result = crawled.sim.query(
        CONSUMER,
        ANALYST,
        "SELECT dt, count(*) AS n, sum(amount) AS total "
        "FROM mkt_sales.orders GROUP BY dt ORDER BY dt",
    )

    assert result.columns == ["dt", "n", "total"]
    assert result.rows == [("2026-01-01", 3, 24.5), ("2026-01-02", 1, 9.5)]


def test_a_database_link_is_queried_the_same_way(crawled: Lake) -> None:
    share_with_consumer(crawled)
    crawled.client(CONSUMER, "glue").create_database(
        DatabaseInput={
            "Name": "sales_all",
            "TargetDatabase": {"CatalogId": CENTRAL, "DatabaseName": "sales"},
        }
    )

    result = crawled.sim.query(
        CONSUMER, ANALYST, "SELECT order_id FROM sales_all.orders ORDER BY 1"
    )

    assert result.rows == [(1,), (1,), (2,), (3,)]


def test_a_query_without_the_accounts_grant_is_refused(crawled: Lake) -> None:
    # the principal's grant stands, but central took SELECT back from the account
    share_with_consumer(crawled)
    crawled.client(CENTRAL, "lakeformation").revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": CONSUMER},
        Resource=table_resource(),
        Permissions=["SELECT"],
    )

    with pytest.raises(PermissionError, match=r"mkt_sales\.orders: the account's grant is missing"):
        crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders")


def test_a_query_without_the_principals_grant_is_refused(crawled: Lake) -> None:
    grant(crawled, CENTRAL, CONSUMER, table_resource(), ["SELECT"], ["SELECT"])
    crawled.accept_all(CONSUMER)
    other = f"arn:aws:iam::{CONSUMER}:role/intern"
    grant(crawled, CONSUMER, other, table_resource(), ["SELECT"])

    with pytest.raises(PermissionError, match="the principal's grant is missing") as refused:
        crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders")
    assert ANALYST in str(refused.value)
    assert len(crawled.sim.query(CONSUMER, other, "SELECT * FROM mkt_sales.orders").rows) == 4


def test_revocation_refuses_the_next_query(crawled: Lake) -> None:
    share_with_consumer(crawled)
    assert crawled.sim.query(CONSUMER, ANALYST, "SELECT 1 FROM mkt_sales.orders LIMIT 1").rows

    crawled.client(CENTRAL, "lakeformation").revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": CONSUMER},
        Resource=table_resource(),
        Permissions=["SELECT", "DESCRIBE"],
    )

    with pytest.raises(PermissionError, match="the account's grant is missing"):
        crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders")
    # and a removed link is refused too
    crawled.client(CONSUMER, "glue").delete_table(DatabaseName="mkt_sales", Name="orders")
    with pytest.raises(PermissionError, match="no such table or resource link"):
        crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders")


def test_a_column_grant_exposes_only_those_columns(crawled: Lake) -> None:
    grant(crawled, CENTRAL, CONSUMER, table_resource(), ["SELECT"], ["SELECT"])
    crawled.accept_all(CONSUMER)
    grant(
        crawled,
        CONSUMER,
        ANALYST,
        {
            "TableWithColumns": {
                "CatalogId": CENTRAL,
                "DatabaseName": "sales",
                "Name": "orders",
                "ColumnNames": ["order_id", "amount"],
            }
        },
        ["SELECT"],
    )

    result = crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders LIMIT 1")

    assert result.columns == ["order_id", "amount"]


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO 'out.csv'",
        "ATTACH 'other.db'",
        "INSTALL httpfs",
        "SELECT 1; SELECT 2",
        "CREATE TABLE t AS SELECT 1",
        "SET enable_external_access = true",
    ],
)
def test_anything_but_one_select_is_refused(lake: Lake, sql: str) -> None:
    with pytest.raises(ValueError, match="single SELECT"):
        lake.sim.query(CONSUMER, ANALYST, sql)


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM 's3://sales-data/x.parquet'"],
)
def test_files_cannot_be_read_directly(crawled: Lake, sql: str) -> None:
    share_with_consumer(crawled)

    with pytest.raises(PermissionError):
        crawled.sim.query(CONSUMER, ANALYST, sql)


def test_unqualified_tables_are_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match=r"<database>\.<table>"):
        lake.sim.query(CONSUMER, ANALYST, "SELECT * FROM orders")


def test_a_query_through_an_unregistered_location_is_refused(crawled: Lake) -> None:
    # GIVEN both grants, but central deregistered the producer's storage
    share_with_consumer(crawled)
    assert crawled.sim.query(CONSUMER, ANALYST, "SELECT 1 FROM mkt_sales.orders LIMIT 1").rows
    crawled.client(CENTRAL, "lakeformation").deregister_resource(
        ResourceArn="arn:aws:s3:::sales-data/products/"
    )

    # THEN Lake Formation vends no credentials: the query is refused, naming the location
    with pytest.raises(PermissionError, match="not a data location registered") as refused:
        crawled.sim.query(CONSUMER, ANALYST, "SELECT * FROM mkt_sales.orders")
    assert "s3://sales-data/products/orders/orders/" in str(refused.value)
    assert f"in account {CENTRAL}" in str(refused.value)
