"""The erasure flow on the local mesh: request, fan-out, find (index or scan), plan, approval,
purge per object, verification, record; stop, cancel, poison objects, concurrent writers,
duplicates, throttling and sender checks. One mesh per module; each test names its own
identifier, so its keys reach only the product it registers."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from meshkit.erasure.cli import register, run
from meshkit.erasure.formats import count_matches
from meshkit.erasure.samples import customers_csv, customers_jsonl, spark_like_parquet
from meshkit.erasure.subjects import matcher_for
from meshkit.events.erasure import (
    ErasureApproved,
    ErasureCancelled,
    ErasureDecided,
    ErasureRequested,
)
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from meshkit.local.mesh import DomainHandle

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL = "111111111111"
SALES = "222222222222"
SUPPORT = "333333333333"
APPROVER = "555555555555"
STRANGER = "666666666666"


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(
        name="er", central_account=CENTRAL, seed=3, settings={"erasure_approvers": [APPROVER]}
    ) as m:
        m.add_domain("sales", account=SALES)
        m.add_domain("support", account=SUPPORT)
        m.run_until_idle()
        yield m


@pytest.fixture(autouse=True)
def _clean(mesh: LocalMesh) -> Iterator[None]:
    yield
    mesh.faults.duplicate_delivery = False
    mesh.faults.throttle(None)


def _product(
    domain: DomainHandle,
    name: str,
    files: Mapping[str, bytes],
    identifier: str,
    *,
    upload_first: bool = True,
) -> str:
    """A product ``name`` whose one table maps ``identifier`` to ``customer_id``."""
    location = f"{domain.storage_uri}{name}/t/"
    if upload_first:
        for key, data in files.items():
            domain.upload(f"{name}/t/{key}", data)
    domain.put(
        ProductRegistrationRequested(
            domain=domain.name,
            product=name,
            tables=[
                TableSpec(
                    name="t",
                    location=location,
                    subject_columns={identifier: "customer_id", f"{identifier}_mail": "email"},
                )
            ],
        )
    )
    domain._mesh.run_until_idle()
    if not upload_first:
        for key, data in files.items():
            domain.upload(f"{name}/t/{key}", data)
        domain._mesh.run_until_idle()
    return location


def _body(domain: DomainHandle, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with domain._mesh.quiet():
        return bytes(domain.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _matches(domain: DomainHandle, location: str, keys: list[dict[str, str]], ident: str) -> int:
    matcher = matcher_for(keys, {ident: "customer_id", f"{ident}_mail": "email"})
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    total = 0
    with domain._mesh.quiet():
        s3 = domain.client("s3")
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            total += count_matches(item["Key"], data, matcher)[1]
    return total


def _eid() -> str:
    return f"er-{uuid.uuid4().hex[:12]}"


def _request(mesh: LocalMesh, ident: str, value: str, **extra: Any) -> str:
    erasure_id = _eid()
    mesh.central.put(
        ErasureRequested(
            erasure_id=erasure_id,
            subject_ref=f"ticket-{ident}",
            keys=[{ident: value}],
            requested_by="privacy-desk",
            **extra,
        )
    )
    mesh.run_until_idle()
    return erasure_id


def _approve(mesh: LocalMesh, erasure_id: str) -> None:
    mesh.put_from(APPROVER, ErasureApproved(erasure_id=erasure_id, approved_by="dpo"))
    mesh.run_until_idle()


def _published(mesh: LocalMesh, detail_type: str, erasure_id: str) -> list[dict[str, Any]]:
    return [d for d in mesh.published(detail_type) if d["erasure_id"] == erasure_id]


def _letters(mesh: LocalMesh, erasure_id: str) -> list[Any]:
    return [d for d in mesh.dead_letters() if erasure_id in json.dumps(d.body)]


# -- the whole flow --------------------------------------------------------------------------
def test_subject_in_two_domains_both_format_families(mesh: LocalMesh) -> None:
    # GIVEN the subject in Parquet and CSV at sales, and gzip JSON lines at support
    sales, support = mesh.domain("sales"), mesh.domain("support")
    ident = "member_id"
    at_sales = _product(
        sales,
        "members",
        {
            "part-0.parquet": spark_like_parquet(2_000, row_groups=2, customers=40, seed=1),
            "part-1.csv": customers_csv(300, customers=40, seed=2),
            "part-2.csv.gz": customers_csv(300, customers=40, seed=3, gz=True),
        },
        ident,
    )
    at_support = _product(
        support,
        "tickets",
        {"day-0.jsonl.gz": customers_jsonl(400, customers=40, seed=4, gz=True)},
        ident,
    )
    keys = [{ident: "7"}]
    before = (_matches(sales, at_sales, keys, ident), _matches(support, at_support, keys, ident))
    assert all(before)
    # WHEN central requests and the named approver approves
    erasure_id = _request(mesh, ident, "7", delete_noncurrent=True)
    plans = {p["domain"]: p for p in _published(mesh, "ErasurePlanned", erasure_id)}
    assert set(plans) == {"sales", "support"}
    assert plans["sales"]["rows"] == before[0]
    assert plans["support"]["rows"] == before[1]
    assert plans["sales"]["total_objects"] == 3
    assert all(d["bytes"] > 0 and d["matching_rows"] > 0 for d in plans["sales"]["details"])
    assert "7@" not in json.dumps(plans)
    assert "customer7" not in json.dumps(plans)
    assert mesh.erasure(erasure_id).state == "PLANNED"  # type: ignore[union-attr]
    _approve(mesh, erasure_id)
    # THEN the rows are gone, files intact otherwise, and the record holds the evidence
    assert _matches(sales, at_sales, keys, ident) == 0
    assert _matches(support, at_support, keys, ident) == 0
    gz = _body(support, f"{at_support}day-0.jsonl.gz")
    assert gz[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz).endswith(b"\n")
    done = {c["domain"]: c for c in _published(mesh, "ErasureCompleted", erasure_id)}
    assert done["sales"]["verified"]
    assert done["support"]["verified"]
    assert done["sales"]["objects_rewritten"] == 3
    assert done["sales"]["versions_deleted"] == 3  # delete_noncurrent, recorded
    (recorded,) = _published(mesh, "ErasureRecorded", erasure_id)
    assert recorded["state"] == "COMPLETED"
    assert recorded["verified"] is True
    assert recorded["rows_removed"] == sum(before)
    record = mesh.erasure(erasure_id)
    assert record is not None
    assert record.state == "COMPLETED"
    assert record.approved_by == "dpo"
    assert record.approver_account == APPROVER
    assert record.requester_account == CENTRAL
    assert record.requested_by == "privacy-desk"
    assert record.subject_hash.startswith("hmac-sha256:")
    assert "7" not in record.key_identifiers
    assert record.key_identifiers == [ident]
    assert record.rows_removed == sum(before)
    assert record.verified
    stored = json.dumps(record.model_dump(mode="json"))
    assert '"7"' not in stored
    assert "customer7@" not in stored
    assert not _letters(mesh, erasure_id)


def test_find_uses_the_subject_index_kept_by_s3_events(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "indexed_id"
    files = {f"part-{i}.jsonl": customers_jsonl(200, customers=400, seed=10 + i) for i in range(4)}
    # uploaded after registration: each Object Created event indexes its object
    location = _product(sales, "indexed", files, ident, upload_first=False)
    holders = [
        k
        for k, d in files.items()
        if count_matches(k, d, matcher_for([{ident: "5"}], {ident: "customer_id"}))[1]
    ]
    assert 0 < len(holders) < len(files)
    erasure_id = _request(mesh, ident, "5")
    (plan,) = _published(mesh, "ErasurePlanned", erasure_id)
    assert plan["method"] == "index"
    assert plan["objects_scanned"] == len(holders)  # only the subject's objects were read
    # A new object whose event is not delivered yet: the find reads it (not trusted).
    extra = customers_jsonl(50, customers=1, seed=99)  # customer 1 only
    sales.client("s3").put_object(
        Bucket=sales.bucket, Key=f"{location.split('/', 3)[3]}late.jsonl", Body=extra
    )
    later = _eid()
    mesh.central.put(ErasureRequested(erasure_id=later, subject_ref="t", keys=[{ident: "1"}]))
    # deliver central and domain, but the object's S3 event may sit in the queue: both work
    mesh.run_until_idle()
    (plan,) = _published(mesh, "ErasurePlanned", later)
    assert f"{location}late.jsonl" in plan["objects"]
    # Deleting an object drops its postings: the next find no longer lists it.
    sales.client("s3").delete_object(
        Bucket=sales.bucket, Key=f"{location.split('/', 3)[3]}late.jsonl"
    )
    mesh.run_until_idle()
    third = _request(mesh, ident, "1")
    (plan,) = _published(mesh, "ErasurePlanned", third)
    assert f"{location}late.jsonl" not in plan["objects"]


def test_auto_approval_under_duplicates_and_throttling(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "dup_id"
    location = _product(
        sales,
        "dups",
        {
            f"p{i}.parquet": spark_like_parquet(600, row_groups=2, customers=15, seed=20 + i)
            for i in range(3)
        },
        ident,
    )
    keys = [{ident: "4"}]
    before = _matches(sales, location, keys, ident)
    for config in mesh.central.configs.values():
        config.settings["erasure_approval"] = "auto"  # type: ignore[index]
    mesh.faults.duplicate_delivery = True
    mesh.faults.throttle({"s3": 0.2, "dynamodb": 0.1, "events": 0.1})
    try:
        erasure_id = _request(mesh, ident, "4")
    finally:
        for config in mesh.central.configs.values():
            config.settings.pop("erasure_approval", None)  # type: ignore[attr-defined]
    assert mesh.faults.injected
    assert _matches(sales, location, keys, ident) == 0
    # every step happened once: one completion, one record, rows counted once
    (done,) = _published(mesh, "ErasureCompleted", erasure_id)
    (recorded,) = _published(mesh, "ErasureRecorded", erasure_id)
    assert done["rows_removed"] == before == recorded["rows_removed"]
    assert recorded["approved_by"] == "policy:auto"
    assert recorded["verified"]
    assert not _letters(mesh, erasure_id)


# -- concurrent writers ----------------------------------------------------------------------
def _concurrent_writes(domain: DomainHandle, key: str, times: int) -> list[int]:
    """Before each of the first ``times`` conditional PutObject calls of the handlers, another
    writer puts a new version of ``key`` (the subject still in it)."""
    writes: list[int] = []
    other = domain.session.client("s3")

    def before(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == key and "IfMatch" in params and len(writes) < times:
            writes.append(1)
            other.put_object(
                Bucket=domain.bucket,
                Key=key,
                Body=customers_csv(120, customers=6, seed=len(writes)),
            )

    domain.client("s3").meta.events.register("before-parameter-build.s3.PutObject", before)
    return writes


def test_ifmatch_412_retry_then_visible_failure(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "race_id"
    location = _product(
        sales,
        "race",
        {
            "a.csv": customers_csv(120, customers=6, seed=1),
            "b.csv": customers_csv(120, customers=6, seed=2),
        },
        ident,
    )
    prefix = location.split("/", 3)[3]
    once = _concurrent_writes(sales, f"{prefix}a.csv", 1)  # a: one conflict, then it wins
    always = _concurrent_writes(sales, f"{prefix}b.csv", 99)  # b: conflicts every time
    try:
        erasure_id = _request(mesh, ident, "2")
        _approve(mesh, erasure_id)
    finally:
        sales.client("s3").meta.events.unregister("before-parameter-build.s3.PutObject")
    assert len(once) == 1
    assert len(always) == 3
    # a: re-read at the concurrent writer's version and purged; b: left as it was, reported
    assert (
        count_matches(
            "a.csv",
            _body(sales, f"{location}a.csv"),
            matcher_for([{ident: "2"}], {ident: "customer_id"}),
        )[1]
        == 0
    )
    (failed,) = _published(mesh, "ErasureFailed", erasure_id)
    assert failed["object_uri"] == f"{location}b.csv"
    assert failed["attempts"] == 3
    assert "concurrent" in failed["reason"]
    (done,) = _published(mesh, "ErasureCompleted", erasure_id)
    assert done["objects_failed"] == 1
    assert done["verified"] is False
    record = mesh.erasure(erasure_id)
    assert record is not None
    assert [f.object_uri for f in record.failures] == [f"{location}b.csv"]


# -- stop and cancel -------------------------------------------------------------------------
def test_stop_between_objects_leaves_each_fully_old_or_new(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "stop_id"
    files = {f"o{i}.csv": customers_csv(100, customers=3, seed=30 + i) for i in range(3)}
    location = _product(sales, "stops", files, ident)
    erasure_id = _request(mesh, ident, "1")
    endpoint = next(
        ep
        for ep in mesh.delivery.endpoints
        if ep.group == "domain.erasure" and ep.account.account_id == SALES
    )
    started: list[str] = []

    def first_put(params: dict[str, Any], **_: Any) -> None:
        if "IfMatch" not in params or started:
            return
        started.append(params["Key"])
        # The cancel reaches central; meanwhile (a concurrent Lambda) the domain gets the stop.
        mesh.central.put(
            ErasureCancelled(erasure_id=erasure_id, cancelled_by="dpo", reason="withdrawn")
        )
        stop = ErasureDecided(
            erasure_id=erasure_id,
            domain="sales",
            decision="stop",
            decided_by="dpo",
            recipients=[SALES],
        )
        endpoint.router.resolve(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "ErasureDecided",
                "source": "meshkit.erasure",
                "account": CENTRAL,
                "time": "2026-12-01T00:00:00Z",
                "region": mesh.region,
                "resources": [],
                "detail": json.loads(stop.detail_json()),
            },
            runtime=endpoint.runtime,
        )

    sales.client("s3").meta.events.register("before-parameter-build.s3.PutObject", first_put)
    try:
        _approve(mesh, erasure_id)
    finally:
        sales.client("s3").meta.events.unregister("before-parameter-build.s3.PutObject", first_put)
    assert len(started) == 1
    matcher = matcher_for([{ident: "1"}], {ident: "customer_id"})
    states = []
    for name, original in files.items():
        now = _body(sales, f"{location}{name}")
        if now == original:
            states.append("old")
        else:
            assert count_matches(name, now, matcher)[1] == 0
            states.append("new")
    assert sorted(states) == ["new", "old", "old"]
    (done,) = _published(mesh, "ErasureCompleted", erasure_id)
    assert done["stopped"]
    assert done["objects_rewritten"] == 1
    assert done["objects_skipped"] == 2
    record = mesh.erasure(erasure_id)
    assert record is not None
    assert record.state == "STOPPED"
    assert record.cancelled_by == "dpo"


def test_cancel_before_apply_drops_the_plan(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "cancel_id"
    location = _product(sales, "cancels", {"x.csv": customers_csv(80, customers=4, seed=5)}, ident)
    before = _body(sales, f"{location}x.csv")
    erasure_id = _request(mesh, ident, "3")
    mesh.put_from(
        APPROVER, ErasureCancelled(erasure_id=erasure_id, cancelled_by="dpo", reason="withdrawn")
    )
    mesh.run_until_idle()
    _approve(mesh, erasure_id)  # too late: rejected, nothing purged
    assert _body(sales, f"{location}x.csv") == before
    record = mesh.erasure(erasure_id)
    assert record is not None
    assert record.state == "CANCELLED"
    (recorded,) = _published(mesh, "ErasureRecorded", erasure_id)
    assert recorded["state"] == "CANCELLED"
    rejected = [
        d
        for d in mesh.published("EventRejected")
        if erasure_id in json.dumps(d) or "CANCELLED" in d["reason"]
    ]
    assert any("CANCELLED" in d["reason"] for d in rejected)


# -- poison objects, archived objects ---------------------------------------------------------
def test_poison_object_dead_lettered_while_the_rest_completes(mesh: LocalMesh) -> None:
    support = mesh.domain("support")
    ident = "poison_id"
    good = customers_jsonl(100, customers=3, seed=7)
    location = _product(
        support,
        "poison",
        {
            "good.jsonl": good,
            "bad.parquet": spark_like_parquet(200, customers=3)[:-200],  # truncated
        },
        ident,
    )
    with mesh.quiet():
        support.client("s3").put_object(
            Bucket=support.bucket,
            Key=f"{location.split('/', 3)[3]}cold.jsonl",
            Body=good,
            StorageClass="GLACIER",
        )
    erasure_id = _request(mesh, ident, "2")
    (plan,) = _published(mesh, "ErasurePlanned", erasure_id)
    assert plan["unreadable"] == [f"{location}bad.parquet"]
    assert plan["archived"] == [f"{location}cold.jsonl"]
    _approve(mesh, erasure_id)
    (letter,) = _letters(mesh, erasure_id)
    assert letter.body["detail"]["object_uri"] == f"{location}bad.parquet"
    assert "truncated Parquet" in letter.attributes["reason"]
    (failed,) = _published(mesh, "ErasureFailed", erasure_id)
    assert failed["object_uri"] == f"{location}bad.parquet"
    (done,) = _published(mesh, "ErasureCompleted", erasure_id)
    assert done["objects_rewritten"] == 1
    assert done["objects_failed"] == 1
    assert done["archived"] == 1
    assert done["verified"] is False
    assert mesh.erasure(erasure_id).state == "COMPLETED"  # type: ignore[union-attr]


# -- who may ---------------------------------------------------------------------------------
def test_senders_are_checked(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "trust_id"
    _product(sales, "trust", {"x.csv": customers_csv(50, customers=2, seed=8)}, ident)
    # a domain that is no erasure requester, and a stranger
    refused = _eid()
    sales.put(ErasureRequested(erasure_id=refused, subject_ref="t", keys=[{ident: "1"}]))
    mesh.put_from(
        STRANGER, ErasureRequested(erasure_id=_eid(), subject_ref="t", keys=[{ident: "1"}])
    )
    mesh.run_until_idle()
    assert mesh.erasure(refused) is None
    erasure_id = _request(mesh, ident, "1")
    # approval from a domain account (not an approver), and by the requester itself
    sales.put(ErasureApproved(erasure_id=erasure_id, approved_by="someone"))
    mesh.put_from(APPROVER, ErasureApproved(erasure_id=erasure_id, approved_by="privacy-desk"))
    mesh.run_until_idle()
    assert mesh.erasure(erasure_id).state == "PLANNED"  # type: ignore[union-attr]
    reasons = " ".join(d["reason"] for d in mesh.published("EventRejected"))
    assert "may not request an erasure" in reasons
    assert "may not approve an erasure" in reasons
    assert "four eyes" in reasons


# -- the CLI against the local mesh ----------------------------------------------------------
def _cli(mesh: LocalMesh, *argv: str) -> str:
    import argparse
    import io

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), RuntimeError)
    args = parser.parse_args(
        [
            "erasure",
            *argv,
            "--bus",
            mesh.central.bus,
            "--registry-table",
            mesh.central.resources.registry_table,
        ]
    )
    out = io.StringIO()
    assert run(args, out, RuntimeError, session=mesh.central.session) == 0
    return out.getvalue()


def test_cli_request_status_approve(mesh: LocalMesh) -> None:
    sales = mesh.domain("sales")
    ident = "cli_id"
    location = _product(sales, "cli", {"x.csv": customers_csv(60, customers=3, seed=9)}, ident)
    erasure_id = _eid()
    sent = _cli(
        mesh, "request", erasure_id, "--key", f"{ident}=2", "--ref", "ticket-9", "--by", "desk"
    )
    assert "ErasureRequested" in sent
    mesh.run_until_idle()
    assert "PLANNED" in _cli(mesh, "status", erasure_id)
    # central is an approver by default: the governance team approves from its account
    assert "ErasureApproved" in _cli(mesh, "approve", erasure_id, "--by", "dpo")
    mesh.run_until_idle()
    status = json.loads(_cli(mesh, "status", erasure_id, "--json"))
    assert status["state"] == "COMPLETED"
    assert status["domains"][0]["rows_removed"] > 0
    assert status["domains"][0]["verified"]
    assert _matches(sales, location, [{ident: "2"}], ident) == 0


def test_s3_events_reach_the_domain_as_aws_sends_them(mesh: LocalMesh) -> None:
    support = mesh.domain("support")
    key = "products/elsewhere/x.txt"
    support.client("s3").put_object(Bucket=support.bucket, Key=key, Body=b"x")
    support.client("s3").delete_object(Bucket=support.bucket, Key=key)
    mesh.run_until_idle()
    seen = [
        e
        for e in mesh.timeline
        if e.detail_type in ("Object Created", "Object Deleted") and e.domain == "support"
    ]
    assert {e.detail_type for e in seen} >= {"Object Created", "Object Deleted"}
    assert all(e.status == "ok" and e.sender == SUPPORT for e in seen)
    # never on the central account, never twice with one id
    assert len({(e.detail_type, e.at) for e in seen}) == len(seen)
