"""The local crawler: reads the objects, updates the central catalog, emits AWS's events."""

from __future__ import annotations

from typing import Any

import pytest
from test_lake_support import (
    BUCKET,
    CENTRAL,
    PRODUCER,
    Lake,
    central_catalog,
    create_crawler,
    csv_bytes,
    jsonl_bytes,
    parquet_bytes,
    producer_setup,
    put_objects,
)

PREFIX = "products/orders/orders"
CRAWLER = "t-sales-orders"
SUCCEEDED_KEYS = {
    "tablesCreated",
    "warningMessage",
    "partitionsUpdated",
    "tablesUpdated",
    "message",
    "partitionsDeleted",
    "accountId",
    "runningTime (sec)",
    "tablesDeleted",
    "crawlerName",
    "completionDate",
    "state",
    "partitionsCreated",
    "cloudWatchLogLink",
}


@pytest.fixture
def producer(lake: Lake) -> Lake:
    central_catalog(lake)
    producer_setup(lake)
    create_crawler(lake)
    return lake


def crawl(lake: Lake) -> list[dict[str, Any]]:
    """Start the crawler as the producer handler does, run it, return the events it emitted."""
    before = len(lake.crawler_events())
    lake.client(PRODUCER, "glue").start_crawler(Name=CRAWLER)
    assert lake.sim.run_pending_crawls() == 1
    return lake.crawler_events()[before:]


def central_orders(lake: Lake) -> dict[str, Any]:
    table: dict[str, Any] = lake.client(CENTRAL, "glue").get_table(
        DatabaseName="sales", Name="orders"
    )["Table"]
    return table


def central_partitions(lake: Lake) -> list[list[str]]:
    partitions = lake.client(CENTRAL, "glue").get_partitions(
        DatabaseName="sales", TableName="orders"
    )["Partitions"]
    return sorted(p["Values"] for p in partitions)


ORDERS = {"order_id": [1, 2], "email": ["a@x.io", "b@x.io"], "amount": [9.5, 12.0]}


def test_parquet_with_hive_partitions_updates_the_central_table(producer: Lake) -> None:
    put_objects(
        producer,
        {
            f"{PREFIX}/dt=2026-01-01/part-0.parquet": parquet_bytes(ORDERS),
            f"{PREFIX}/dt=2026-01-02/part-0.parquet": parquet_bytes(ORDERS),
            f"{PREFIX}/_SUCCESS": b"",
        },
    )

    events = crawl(producer)

    # THEN Started then Succeeded, exactly AWS's detail keys, on the producer's bus
    assert [(e["account"], e["source"], e["detail"]["state"]) for e in events] == [
        (PRODUCER, "aws.glue", "Started"),
        (PRODUCER, "aws.glue", "Succeeded"),
    ]
    assert events[0]["detail"]["message"] == "Crawler Started"
    done = events[1]["detail"]
    assert set(done) == SUCCEEDED_KEYS
    assert all(isinstance(v, str) for v in done.values())
    assert (done["tablesCreated"], done["tablesUpdated"], done["partitionsCreated"]) == (
        "0",
        "1",
        "2",
    )
    assert (done["crawlerName"], done["accountId"], done["message"]) == (
        CRAWLER,
        PRODUCER,
        "Crawler Succeeded",
    )
    assert done["completionDate"].endswith("Z")
    assert int(done["runningTime (sec)"]) >= 0
    # the central table has the inferred schema, keeps its pii flags, gains the partition key
    table = central_orders(producer)
    columns = {c["Name"]: c for c in table["StorageDescriptor"]["Columns"]}
    assert {n: c["Type"] for n, c in columns.items()} == {
        "order_id": "bigint",
        "email": "string",
        "amount": "double",
    }
    assert columns["email"]["Parameters"] == {"pii_flag": "true"}
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["pii_flag"] == "true"
    assert central_partitions(producer) == [["2026-01-01"], ["2026-01-02"]]
    # the crawler is READY again with AWS's LastCrawl
    crawler = producer.client(PRODUCER, "glue").get_crawler(Name=CRAWLER)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")
    assert crawler["LakeFormationConfiguration"]["AccountId"] == CENTRAL
    # and the producer reads the schema back across catalogs, as its handler does
    read = producer.client(PRODUCER, "glue").get_table(
        CatalogId=CENTRAL, DatabaseName="sales", Name="orders"
    )["Table"]
    assert [c["Name"] for c in read["StorageDescriptor"]["Columns"]] == list(columns)


def test_a_recrawl_of_unchanged_data_updates_nothing(producer: Lake) -> None:
    put_objects(producer, {f"{PREFIX}/dt=2026-01-01/part-0.parquet": parquet_bytes(ORDERS)})
    crawl(producer)
    version = central_orders(producer)["VersionId"]

    again = crawl(producer)[-1]["detail"]

    assert (again["state"], again["tablesUpdated"], again["partitionsCreated"]) == (
        "Succeeded",
        "0",
        "0",
    )
    assert central_orders(producer)["VersionId"] == version

    # a new partition is created without touching the table
    put_objects(producer, {f"{PREFIX}/dt=2026-01-03/part-0.parquet": parquet_bytes(ORDERS)})
    third = crawl(producer)[-1]["detail"]
    assert (third["tablesUpdated"], third["partitionsCreated"]) == ("0", "1")
    # a new column updates the table
    wider = {**ORDERS, "country": ["FR", "DE"]}
    put_objects(producer, {f"{PREFIX}/dt=2026-01-04/part-0.parquet": parquet_bytes(wider)})
    fourth = crawl(producer)[-1]["detail"]
    assert (fourth["tablesUpdated"], fourth["partitionsCreated"]) == ("1", "1")
    assert "country" in [
        c["Name"] for c in central_orders(producer)["StorageDescriptor"]["Columns"]
    ]


@pytest.mark.parametrize(
    ("suffix", "encode", "classification"),
    [("csv", csv_bytes, "csv"), ("jsonl", jsonl_bytes, "json"), ("data", jsonl_bytes, "json")],
)
def test_csv_and_json_lines_are_inferred(
    producer: Lake, suffix: str, encode: Any, classification: str
) -> None:
    put_objects(
        producer,
        {
            f"{PREFIX}/year=2026/month=01/a.{suffix}": encode(ORDERS),
            f"{PREFIX}/year=2026/month=02/b.{suffix}": encode(ORDERS),
        },
    )

    done = crawl(producer)[-1]["detail"]

    assert (done["state"], done["partitionsCreated"]) == ("Succeeded", "2")
    table = central_orders(producer)
    assert table["Parameters"]["classification"] == classification
    assert {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]} == {
        "order_id": "bigint",
        "email": "string",
        "amount": "double",
    }
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month"]
    assert central_partitions(producer) == [["2026", "01"], ["2026", "02"]]


def test_a_corrupt_file_fails_the_crawl_and_changes_nothing(producer: Lake) -> None:
    good = parquet_bytes(ORDERS)
    put_objects(
        producer,
        {
            f"{PREFIX}/dt=2026-01-01/part-0.parquet": good,
            f"{PREFIX}/dt=2026-01-02/part-0.parquet": good[: len(good) // 2],
        },
    )
    before = central_orders(producer)

    events = crawl(producer)

    assert [e["detail"]["state"] for e in events] == ["Started", "Failed"]
    failed = events[1]["detail"]
    assert set(failed) == {
        "crawlerName",
        "errorMessage",
        "accountId",
        "cloudWatchLogLink",
        "state",
        "message",
    }
    assert f"s3://{BUCKET}/{PREFIX}/dt=2026-01-02/part-0.parquet" in failed["errorMessage"]
    assert failed["message"] == "Crawler Failed"
    after = central_orders(producer)
    assert after["VersionId"] == before["VersionId"]
    assert after["StorageDescriptor"] == before["StorageDescriptor"]
    assert central_partitions(producer) == []
    crawler = producer.client(PRODUCER, "glue").get_crawler(Name=CRAWLER)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "FAILED")
    assert crawler["LastCrawl"]["ErrorMessage"] == failed["errorMessage"]


def test_an_empty_location_fails_the_crawl(producer: Lake) -> None:
    put_objects(producer, {"elsewhere/x.parquet": parquet_bytes(ORDERS)})

    failed = crawl(producer)[-1]["detail"]

    assert failed["state"] == "Failed"
    assert "No data objects found" in failed["errorMessage"]


def test_a_crawler_without_alter_on_the_central_table_fails(lake: Lake) -> None:
    central_catalog(lake)
    # the producer linked the database but central never granted it anything
    lake.client(PRODUCER, "glue").create_database(
        DatabaseInput={
            "Name": "sales_link",
            "TargetDatabase": {"CatalogId": CENTRAL, "DatabaseName": "sales"},
        }
    )
    create_crawler(lake)
    put_objects(lake, {f"{PREFIX}/part-0.parquet": parquet_bytes(ORDERS)})

    failed = crawl(lake)[-1]["detail"]

    assert failed["state"] == "Failed"
    assert "Insufficient Lake Formation permission(s) on orders" in failed["errorMessage"]
    columns = central_orders(lake)["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["email"]


def test_an_s3_target_creates_a_table_in_the_crawlers_database(lake: Lake) -> None:
    glue = lake.client(PRODUCER, "glue")
    glue.create_database(DatabaseInput={"Name": "raw"})
    glue.create_crawler(
        Name=CRAWLER,
        Role=f"arn:aws:iam::{PRODUCER}:role/crawler",
        DatabaseName="raw",
        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/landing/Click-Stream"}]},
    )
    put_objects(lake, {"landing/Click-Stream/a.parquet": parquet_bytes(ORDERS)})

    done = crawl(lake)[-1]["detail"]

    assert (done["tablesCreated"], done["tablesUpdated"]) == ("1", "0")
    table = glue.get_table(DatabaseName="raw", Name="click_stream")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/landing/Click-Stream/"
    assert table["PartitionKeys"] == []


def test_a_crawl_is_queued_only_by_a_successful_start(producer: Lake) -> None:
    glue = producer.client(PRODUCER, "glue")
    glue.start_crawler(Name=CRAWLER)
    with pytest.raises(glue.exceptions.CrawlerRunningException):
        glue.start_crawler(Name=CRAWLER)

    put_objects(producer, {f"{PREFIX}/part-0.parquet": parquet_bytes(ORDERS)})
    assert producer.sim.run_pending_crawls() == 1
    assert producer.sim.run_pending_crawls() == 0


def test_update_crawler_changes_what_the_next_crawl_reads(producer: Lake) -> None:
    # GIVEN a second central table the producer may alter, and the crawler updated to cover it
    glue = producer.client(CENTRAL, "glue")
    glue.create_table(
        DatabaseName="sales",
        TableInput={
            "Name": "refunds",
            "StorageDescriptor": {"Location": f"s3://{BUCKET}/products/orders/refunds/"},
        },
    )
    refunds_resource = {"Table": {"CatalogId": CENTRAL, "DatabaseName": "sales", "Name": "refunds"}}
    producer.client(CENTRAL, "lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": PRODUCER},
        Resource=refunds_resource,
        Permissions=["ALTER", "DESCRIBE"],
    )
    producer.accept_all(PRODUCER)
    put_objects(
        producer,
        {
            f"{PREFIX}/part-0.parquet": parquet_bytes(ORDERS),
            "products/orders/refunds/part-0.csv": b"order_id,amount\n1,2.5\n",
        },
    )
    crawler_glue = producer.client(PRODUCER, "glue")
    crawler_glue.update_crawler(
        Name=CRAWLER,
        Targets={
            "CatalogTargets": [{"DatabaseName": "sales_link", "Tables": ["orders", "refunds"]}]
        },
        LakeFormationConfiguration={"UseLakeFormationCredentials": True, "AccountId": CENTRAL},
    )

    done = crawl(producer)[-1]["detail"]

    assert (done["state"], done["tablesUpdated"]) == ("Succeeded", "2")
    refunds = glue.get_table(DatabaseName="sales", Name="refunds")["Table"]
    assert refunds["Parameters"]["classification"] == "csv"
    crawler = crawler_glue.get_crawler(Name=CRAWLER)["Crawler"]
    assert crawler["Targets"]["CatalogTargets"][0]["Tables"] == ["orders", "refunds"]
    assert crawler["Version"] == 2
    with pytest.raises(crawler_glue.exceptions.EntityNotFoundException):
        crawler_glue.update_crawler(Name="missing", Role="r")
    crawler_glue.start_crawler(Name=CRAWLER)
    with pytest.raises(crawler_glue.exceptions.CrawlerRunningException):
        crawler_glue.update_crawler(Name=CRAWLER, Role="r")


def test_a_crawl_through_an_unregistered_location_fails(producer: Lake) -> None:
    # GIVEN the data, but central's Lake Formation no longer holds the producer's location
    put_objects(producer, {f"{PREFIX}/part-0.parquet": parquet_bytes(ORDERS)})
    producer.client(CENTRAL, "lakeformation").deregister_resource(
        ResourceArn=f"arn:aws:s3:::{BUCKET}/products/"
    )

    # WHEN the crawler runs with Lake Formation credentials against central's table
    failed = crawl(producer)[-1]["detail"]

    # THEN it fails naming the location and the catalog account, and changes nothing
    assert failed["state"] == "Failed"
    assert f"s3://{BUCKET}/products/orders/orders/" in failed["errorMessage"]
    assert (
        f"not a data location registered with Lake Formation in account {CENTRAL}"
        in (failed["errorMessage"])
    )
    assert central_orders(producer)["StorageDescriptor"]["Columns"][0]["Name"] == "email"
    assert central_partitions(producer) == []


def test_a_registration_of_another_prefix_does_not_cover_the_table(producer: Lake) -> None:
    client = producer.client(CENTRAL, "lakeformation")
    client.deregister_resource(ResourceArn=f"arn:aws:s3:::{BUCKET}/products/")
    # a registration of a sibling prefix (products-archive/) covers nothing under products/
    client.register_resource(
        ResourceArn=f"arn:aws:s3:::{BUCKET}/products-archive/",
        RoleArn=f"arn:aws:iam::{CENTRAL}:role/t-location",
    )
    put_objects(producer, {f"{PREFIX}/part-0.parquet": parquet_bytes(ORDERS)})

    assert crawl(producer)[-1]["detail"]["state"] == "Failed"

    # registering the bucket itself covers every prefix of it
    client.register_resource(
        ResourceArn=f"arn:aws:s3:::{BUCKET}", RoleArn=f"arn:aws:iam::{CENTRAL}:role/t-location"
    )
    assert crawl(producer)[-1]["detail"]["state"] == "Succeeded"
