"""One object's purge against moto S3: exact version, IfMatch write, 412 retry, verification."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from meshkit.erasure.formats import count_matches
from meshkit.erasure.objects import purge_object
from meshkit.erasure.samples import customers_csv, customers_jsonl, spark_like_parquet
from meshkit.erasure.subjects import matcher_for

if TYPE_CHECKING:
    from collections.abc import Iterator

BUCKET = "erasure-test-222222222222"
MATCH = matcher_for([{"customer_id": "3"}], {"customer_id": "customer_id", "email": "email"})


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def _versions(s3: Any, key: str) -> list[str]:
    return [v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]]


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("p/orders.parquet", spark_like_parquet(3_000, row_groups=3, customers=20)),
        ("p/events.jsonl.gz", customers_jsonl(500, customers=20, gz=True)),
        ("p/events.csv", customers_csv(500, customers=20)),
    ],
)
def test_purge_writes_one_verified_version(s3: Any, key: str, data: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    rows, matches = count_matches(key, data, MATCH)
    old = _versions(s3, key)
    outcome = purge_object(s3, BUCKET, key, MATCH)
    assert outcome.status == "purged", outcome.reason
    assert outcome.verified
    assert (outcome.rows_before, outcome.rows_removed) == (rows, matches)
    assert outcome.version_read == old[0]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert count_matches(key, body, MATCH) == (rows - matches, 0)
    # the old version is still there (noncurrent) unless asked otherwise
    assert set(old) < set(_versions(s3, key))
    assert outcome.noncurrent_deleted == []


def test_delete_noncurrent_removes_the_version_that_held_the_rows(s3: Any) -> None:
    key = "p/events.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=customers_jsonl(200, customers=10))
    old = _versions(s3, key)[0]
    outcome = purge_object(s3, BUCKET, key, MATCH, delete_noncurrent=True)
    assert outcome.noncurrent_deleted == [old]
    assert _versions(s3, key) == [outcome.version_written]


def _concurrent_writer(s3: Any, key: str, times: int) -> list[int]:
    """Before each of the first ``times`` PutObject calls, another writer puts a new version."""
    writes: list[int] = []
    other = boto3.client("s3", region_name="us-east-1")

    def before_put(params: dict[str, Any], **_: Any) -> None:
        if len(writes) < times and "IfMatch" in params:
            writes.append(1)
            other.put_object(
                Bucket=BUCKET, Key=key, Body=customers_jsonl(300, customers=10, seed=len(writes))
            )

    s3.meta.events.register("before-parameter-build.s3.PutObject", before_put)
    return writes


def test_412_from_a_concurrent_writer_is_retried_on_the_new_version(s3: Any) -> None:
    key = "p/events.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=customers_jsonl(200, customers=10))
    writes = _concurrent_writer(s3, key, times=1)
    outcome = purge_object(s3, BUCKET, key, MATCH)
    assert writes == [1]
    assert outcome.status == "purged"
    assert outcome.attempts == 2
    # the concurrent writer's version was the one purged: its 300 records minus the subject's
    assert outcome.rows_before == 300
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert count_matches(key, body, MATCH)[1] == 0


def test_conflicts_on_every_attempt_fail_the_object_visibly_and_leave_it(s3: Any) -> None:
    key = "p/events.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=customers_jsonl(200, customers=10))
    _concurrent_writer(s3, key, times=10)
    outcome = purge_object(s3, BUCKET, key, MATCH, max_attempts=3)
    assert outcome.status == "conflict"
    assert "all 3 attempts" in outcome.reason
    assert "PreconditionFailed" in outcome.reason
    assert not outcome.ok
    # every version is a whole one, none of them ours
    assert outcome.version_written is None


def test_poison_object_is_reported_unchanged(s3: Any) -> None:
    key = "p/broken.parquet"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"PAR1 not really")
    outcome = purge_object(s3, BUCKET, key, MATCH)
    assert outcome.status == "unreadable"
    assert "truncated Parquet" in outcome.reason
    assert len(_versions(s3, key)) == 1


def test_archived_objects_and_unversioned_buckets_are_reported(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="p/cold.jsonl", Body=b"{}\n", StorageClass="GLACIER")
    assert purge_object(s3, BUCKET, "p/cold.jsonl", MATCH).status == "archived"
    s3.create_bucket(Bucket="plain-bucket-222222222222")
    s3.put_object(Bucket="plain-bucket-222222222222", Key="a.jsonl", Body=b"{}\n")
    outcome = purge_object(s3, "plain-bucket-222222222222", "a.jsonl", MATCH)
    assert outcome.status == "unversioned"
    assert "versioning" in outcome.reason


def test_scan_finds_counts_and_reports_without_values(s3: Any) -> None:
    from meshkit.erasure.find import scan_location

    s3.put_object(Bucket=BUCKET, Key="t/a.parquet", Body=spark_like_parquet(1000, customers=20))
    s3.put_object(Bucket=BUCKET, Key="t/b.csv", Body=customers_csv(100, customers=20, seed=4))
    s3.put_object(Bucket=BUCKET, Key="t/_SUCCESS", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="t/c.jsonl", Body=b"{}\n", StorageClass="GLACIER")
    s3.put_object(Bucket=BUCKET, Key="t/d.parquet", Body=b"PAR1 broken")
    s3.put_object(Bucket=BUCKET, Key="other/e.csv", Body=customers_csv(100, customers=20))
    plan = scan_location(s3, f"s3://{BUCKET}/t/", MATCH)
    assert sorted(o.uri.rsplit("/", 1)[-1] for o in plan.objects) == ["a.parquet", "b.csv"]
    assert plan.objects_scanned == 3
    assert plan.archived == [f"s3://{BUCKET}/t/c.jsonl"]
    assert list(plan.unreadable) == [f"s3://{BUCKET}/t/d.parquet"]
    assert plan.matching_rows == sum(o.matching_rows for o in plan.objects) > 0
    assert "customer3" not in repr(plan)
