"""Data locations in the local mesh: one canonical spelling, checked before anything else, and
storage proven to belong to the sender (HeadBucket with ExpectedBucketOwner).

A refused registration changes nothing (registry, catalog, Lake Formation) and ends in one
dead letter with one EventRejected whose reason states the rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshkit.events.types import S3Location, s3_location_problem
from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


@pytest.fixture(scope="module")
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=5) as m:
        m.add_domain("sales", account=SALES)
        m.add_domain("marketing", account=MARKETING)
        m.bind_domain("sales_two", SALES)  # a second domain of sales' account, by hand
        m.run_until_idle()
        yield m


def _state(mesh: LocalMesh) -> Any:
    """Everything a refused registration must leave as it was."""
    with mesh.quiet():
        ddb = mesh.central.client("dynamodb")
        items = ddb.scan(TableName=mesh.central.config.registry_table)["Items"]
        glue = mesh.central.client("glue")
        databases = sorted(d["Name"] for d in glue.get_databases()["DatabaseList"])
        lf = mesh.central.client("lakeformation")
        locations = sorted(r["ResourceArn"] for r in lf.list_resources()["ResourceInfoList"])
    return sorted(json.dumps(i, sort_keys=True) for i in items), databases, locations


def _send(mesh: LocalMesh, domain: str, detail_type: str, detail: dict[str, Any]) -> None:
    source = "meshkit.domains" if detail_type.startswith("Domain") else "meshkit.products"
    mesh.domain(domain).put({"source": source, "detail-type": detail_type, "detail": detail})
    mesh.run_until_idle()


def _refused(mesh: LocalMesh, domain: str, detail_type: str, detail: dict[str, Any]) -> str:
    """Send, check that nothing changed and exactly one rejection came out; its reason."""
    before = _state(mesh)
    reports, letters = len(mesh.published("EventRejected")), len(mesh.dead_letters())
    _send(mesh, domain, detail_type, detail)
    assert _state(mesh) == before
    new = mesh.published("EventRejected")[reports:]
    assert len(new) == 1, new
    assert len(mesh.dead_letters()) == letters + 1
    return str(new[0]["reason"])


BAD_LOCATIONS = {
    "dot-dot segment": ("{base}/orders/../../marketing/", "'..' segment"),
    "dot segment": ("{base}/./orders/", "'.' segment"),
    "empty segment": ("{base}//orders/", "empty segment"),
    "encoded slash": ("{base}/orders%2F..%2Fx/", "percent-encoded '%2F'"),
    "encoded slash lower": ("{base}/orders%2f/", "percent-encoded '%2f'"),
    "encoded backslash": ("{base}/orders%5C/", "percent-encoded '%5C'"),
    "backslash": ("{base}/orders\\x/", "backslash"),
    "s3a scheme": ("s3a://{bucket}/products/orders/", "scheme 's3a'"),
    "s3n scheme": ("s3n://{bucket}/products/orders/", "scheme 's3n'"),
    "upper-case scheme": ("S3://{bucket}/products/orders/", "scheme 'S3'"),
    "upper-case bucket": ("s3://{upper}/products/orders/", "bucket names are lower-case"),
}


def _location(mesh: LocalMesh, template: str) -> str:
    sales = mesh.domain("sales")
    return template.format(
        base=sales.storage_uri.rstrip("/"), bucket=sales.bucket, upper=sales.bucket.upper()
    )


@pytest.mark.parametrize("case", sorted(BAD_LOCATIONS))
def test_a_non_canonical_table_location_is_refused(mesh: LocalMesh, case: str) -> None:
    template, rule = BAD_LOCATIONS[case]
    location = _location(mesh, template)
    reason = _refused(
        mesh,
        "sales",
        "ProductRegistrationRequested",
        {"domain": "sales", "product": "orders", "tables": [{"name": "o", "location": location}]},
    )
    assert rule in reason, reason


@pytest.mark.parametrize("case", sorted(BAD_LOCATIONS))
def test_a_non_canonical_storage_is_refused_with_its_rule(mesh: LocalMesh, case: str) -> None:
    template, rule = BAD_LOCATIONS[case]
    reason = _refused(
        mesh,
        "sales",
        "DomainRegistrationRequested",
        {"domain": "sales", "account_id": SALES, "storage_uri": _location(mesh, template)},
    )
    assert rule in reason, reason


def test_storage_in_another_accounts_bucket_is_refused(mesh: LocalMesh) -> None:
    # GIVEN marketing's bucket, which trusts central's location role like every domain bucket
    marketing = mesh.domain("marketing")
    # WHEN sales onboards its own domain entry over it
    with mesh.flow("squat") as flow:
        reason = _refused(
            mesh,
            "sales",
            "DomainRegistrationRequested",
            {
                "domain": "sales",
                "account_id": SALES,
                "storage_uri": f"s3://{marketing.bucket}/products/",
            },
        )
    # THEN the ownership proof refused it: HeadBucket with the sender as expected owner
    assert f"not owned by account {SALES}" in reason
    assert flow.stats.calls_by_operation.get("s3.HeadBucket") == 1
    assert "s3.GetBucketLocation" not in flow.stats.calls_by_operation


def test_storage_overlapping_another_domain_of_the_account_is_refused(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    reason = _refused(
        mesh,
        "sales",
        "DomainRegistrationRequested",
        {
            "domain": "sales_two",
            "account_id": SALES,
            "storage_uri": f"{sales.storage_uri.rstrip('/')}/two/",
        },
    )
    assert "overlaps the storage of domains ['sales']" in reason


def test_storage_in_a_second_bucket_of_the_account_is_accepted(mesh: LocalMesh) -> None:
    bucket = f"t-sales-two-{SALES}"
    mesh.domain("sales").client("s3").create_bucket(Bucket=bucket)
    _send(
        mesh,
        "sales",
        "DomainRegistrationRequested",
        {"domain": "sales_two", "account_id": SALES, "storage_uri": f"s3://{bucket}/data"},
    )
    registered = [d["domain"] for d in mesh.published("DomainRegistered")]
    assert "sales_two" in registered
    record = {d.domain: d for d in mesh.registered_domains()}["sales_two"]
    assert record.account_id == SALES


def test_locations_compare_by_segment() -> None:
    storage = S3Location.parse("s3://sales-data/data")
    assert not S3Location.parse("s3://sales-data/database/t/").within(storage)
    assert S3Location.parse("s3://sales-data/data/t").within(storage)
    assert S3Location.parse("s3://sales-data").overlaps(storage)
    assert not S3Location.parse("s3://sales-datb/data/").overlaps(storage)
    assert S3Location.parse("s3://sales-data/data").uri == "s3://sales-data/data/"
    assert s3_location_problem("s3://sales-data/products/orders/") is None
