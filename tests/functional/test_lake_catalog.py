"""Cross-catalog Glue reads and resource links, as AWS answers them."""

from __future__ import annotations

import pytest
from test_lake_support import (
    CENTRAL,
    CONSUMER,
    Lake,
    central_catalog,
    grant,
    table_resource,
)


def test_cross_catalog_get_table_needs_a_usable_grant(lake: Lake) -> None:
    central_catalog(lake, tables=("orders", "customers"))
    glue = lake.client(CONSUMER, "glue")
    # A same-named database in the consumer's own catalog must not be what answers.
    glue.create_database(DatabaseInput={"Name": "sales"})
    glue.create_table(DatabaseName="sales", TableInput={"Name": "orders"})

    with pytest.raises(glue.exceptions.AccessDeniedException, match=r"sales\.orders"):
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="orders")
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_database(CatalogId=CENTRAL, Name="sales")

    grant(lake, CENTRAL, CONSUMER, table_resource(), ["DESCRIBE"])
    lake.accept_all(CONSUMER)

    table = glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="orders")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://sales-data/products/orders/orders/"
    assert table["Parameters"]["pii_flag"] == "true"
    # the table grant lets the database be described, not the other tables
    assert glue.get_database(CatalogId=CENTRAL, Name="sales")["Database"]["Name"] == "sales"
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="customers")
    names = [
        t["Name"] for t in glue.get_tables(CatalogId=CENTRAL, DatabaseName="sales")["TableList"]
    ]
    assert names == ["orders"]
    assert (
        glue.get_partitions(CatalogId=CENTRAL, DatabaseName="sales", TableName="orders")[
            "Partitions"
        ]
        == []
    )


def test_a_missing_table_is_not_found_even_with_a_database_grant(lake: Lake) -> None:
    central_catalog(lake)
    grant(
        lake,
        CENTRAL,
        CONSUMER,
        {"Table": {"CatalogId": CENTRAL, "DatabaseName": "sales", "TableWildcard": {}}},
        ["DESCRIBE"],
    )
    lake.accept_all(CONSUMER)
    glue = lake.client(CONSUMER, "glue")

    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="nope")


def test_a_database_resource_link_resolves_to_its_target(lake: Lake) -> None:
    central_catalog(lake, tables=("orders", "customers"))
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT", "DESCRIBE"])
    lake.accept_all(CONSUMER)
    glue = lake.client(CONSUMER, "glue")
    glue.create_database(
        DatabaseInput={
            "Name": "sales_link",
            "TargetDatabase": {"CatalogId": CENTRAL, "DatabaseName": "sales"},
        }
    )

    # the link itself is what get_database returns
    link = glue.get_database(Name="sales_link")["Database"]
    assert link["TargetDatabase"] == {"CatalogId": CENTRAL, "DatabaseName": "sales"}
    # table reads through it answer from the target, limited to what was granted
    table = glue.get_table(DatabaseName="sales_link", Name="orders")["Table"]
    assert (table["DatabaseName"], table["StorageDescriptor"]["Location"]) == (
        "sales",
        "s3://sales-data/products/orders/orders/",
    )
    assert [t["Name"] for t in glue.get_tables(DatabaseName="sales_link")["TableList"]] == [
        "orders"
    ]
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_table(DatabaseName="sales_link", Name="customers")


def test_a_table_resource_link_is_returned_as_the_link(lake: Lake) -> None:
    central_catalog(lake)
    glue = lake.client(CONSUMER, "glue")
    glue.create_database(DatabaseInput={"Name": "mkt_sales"})
    target = {"CatalogId": CENTRAL, "DatabaseName": "sales", "Name": "orders"}
    glue.create_table(
        DatabaseName="mkt_sales", TableInput={"Name": "orders", "TargetTable": target}
    )

    # AWS hands back the link (clients follow TargetTable); reading the target needs the grant
    assert glue.get_table(DatabaseName="mkt_sales", Name="orders")["Table"]["TargetTable"] == target
    assert lake.sim.catalog.resolve_table(CONSUMER, "mkt_sales", "orders") is not None
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_table(CatalogId=CENTRAL, DatabaseName="sales", Name="orders")


def test_deleting_a_table_drops_its_grants(lake: Lake) -> None:
    central_catalog(lake)
    grant(lake, CENTRAL, CONSUMER, table_resource(), ["SELECT"])
    lake.accept_all(CONSUMER)

    lake.client(CENTRAL, "glue").delete_table(DatabaseName="sales", Name="orders")

    assert lake.sim.grants(CONSUMER) == []


def test_cross_catalog_writes_are_refused_loudly(lake: Lake) -> None:
    central_catalog(lake)
    with pytest.raises(NotImplementedError, match="UpdateTable"):
        lake.client(CONSUMER, "glue").update_table(
            CatalogId=CENTRAL, DatabaseName="sales", TableInput={"Name": "orders"}
        )
