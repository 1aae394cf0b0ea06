"""Drop zones on the local mesh: vended credentials, uploads validated, crawled or quarantined."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meshkit.local.dropzone import LocalDropZone, LocalPartner

CENTRAL = "111111111111"
SALES = "222222222222"
ACME = "777777777777"
GLOBEX = "888888888888"
ORDERS_CSV = b"order_id,amount,day\n1,12.5,2026-12-01\n2,7.25,2026-12-02\n"


@pytest.fixture(scope="module")
def zone() -> Iterator[LocalDropZone]:
    # One mesh for the module: a registered product, a drop zone with two partners.
    with LocalMesh(name="dz", central_account=CENTRAL) as mesh:
        sales = mesh.add_domain("sales", account=SALES)
        sales.upload("products/orders/orders/seed.csv", ORDERS_CSV)
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                tables=[TableSpec(name="orders", location=f"{sales.storage_uri}orders/orders/")],
            )
        )
        mesh.run_until_idle()
        columns = [
            {"name": "order_id", "type": "bigint"},
            {"name": "amount", "type": "double"},
            {"name": "day", "type": "date"},
        ]
        zone = mesh.add_drop_zone(
            "sales",
            partners={
                "acme": {
                    "product": "orders",
                    "target_uri": f"{sales.storage_uri}orders/orders/",
                    "format": "csv",
                    "max_bytes": 4096,
                    "columns": columns,
                },
                "globex": {
                    "product": "orders",
                    "target_uri": f"{sales.storage_uri}orders/orders/",
                    "format": "json",
                    "columns": columns,
                },
            },
            max_session_seconds=3600,
        )
        zone.partner("acme", account=ACME)
        zone.partner("globex", account=GLOBEX)
        yield zone


def _events(mesh: LocalMesh, detail_type: str) -> list[dict[str, Any]]:
    return mesh.published(detail_type)


def _upload(partner: LocalPartner, key: str, body: bytes) -> None:
    s3 = partner.s3(partner.request_credentials(900))
    s3.put_object(Bucket=partner.zone.bucket, Key=key, Body=body)


def test_a_valid_upload_is_moved_into_the_product_and_crawled(zone: LocalDropZone) -> None:
    mesh, acme = zone.mesh, zone.partners["acme"]
    before = len(_events(mesh, "ProductSchemaUpdated"))
    # GIVEN vended credentials, WHEN acme puts a valid CSV under its prefix
    body = b"order_id,amount,day\n3,99.5,2026-12-03\n"
    _upload(acme, "acme/2026/12/orders-3.csv", body)
    mesh.run_until_idle()
    # THEN it moved under the table's location, and the product's crawl reported its schema
    accepted = _events(mesh, "DropZoneUploadAccepted")[-1]
    target = f"s3://{zone.domain.bucket}/products/orders/orders/acme--2026--12--orders-3.csv"
    assert accepted["target_uri"] == target
    assert accepted["rows"] == 1
    assert accepted["partner"] == "acme"
    data = (
        zone.domain.client("s3")
        .get_object(Bucket=zone.domain.bucket, Key=target.split("/", 3)[3])["Body"]
        .read()
    )
    assert data == body
    assert "acme/2026/12/orders-3.csv" not in zone.objects()
    updates = _events(mesh, "ProductSchemaUpdated")[before:]
    assert len(updates) == 1
    assert updates[0]["correlation_id"] == accepted["correlation_id"]
    columns = {c["name"] for c in updates[0]["tables"][0]["columns"]}
    assert {"order_id", "amount", "day"} <= columns


def test_issuing_credentials_is_audited(zone: LocalDropZone) -> None:
    mesh, acme = zone.mesh, zone.partners["acme"]
    acme.request_credentials(1800)
    issued = _events(mesh, "DropZoneCredentialsIssued")[-1]
    assert issued["partner"] == "acme"
    assert issued["channel"] == "api"
    assert issued["caller"].startswith(f"arn:aws:sts::{ACME}:assumed-role/acme-uploader/")
    assert issued["prefix"] == f"s3://{zone.bucket}/acme/"
    assert issued["duration_seconds"] == 1800


@pytest.mark.parametrize(
    ("key", "body", "reason", "message"),
    [
        ("acme/bad-header.csv", b"id,amount,day\n1,2,2026-12-01\n", "schema", "missing"),
        ("acme/bad-type.csv", b"order_id,amount,day\nx,2,2026-12-01\n", "schema", "bigint"),
        ("acme/ragged.csv", b"order_id,amount,day\n1,2\n", "format", "2 fields"),
        ("acme/orders.json", b'{"order_id": 1}\n', "format", "delivers csv"),
        ("acme/empty.csv", b"", "size", "empty"),
        ("acme/huge.csv", b"order_id,amount,day\n" + b"1,2,2026-12-01\n" * 400, "size", "4096"),
        ("acme/latin1.csv", "order_id,amount,day\n1,2,café\n".encode("latin-1"), "format", "UTF-8"),
    ],
)
def test_an_invalid_upload_is_quarantined_with_its_reason(
    zone: LocalDropZone, key: str, body: bytes, reason: str, message: str
) -> None:
    mesh, acme = zone.mesh, zone.partners["acme"]
    accepted = len(_events(mesh, "DropZoneUploadAccepted"))
    _upload(acme, key, body)
    mesh.run_until_idle()
    rejected = _events(mesh, "DropZoneUploadRejected")[-1]
    assert rejected["source_uri"] == f"s3://{zone.bucket}/{key}"
    assert rejected["quarantine_uri"] == f"s3://{zone.bucket}/quarantine/{key}"
    assert rejected["reason"] == reason
    assert message in rejected["message"]
    assert rejected["partner"] == "acme"
    # moved, not copied: the drop zone holds it in quarantine only, the product never saw it
    assert key not in zone.objects()
    assert f"quarantine/{key}" in zone.objects("quarantine/")
    assert len(_events(mesh, "DropZoneUploadAccepted")) == accepted


def test_json_lines_partner_and_its_schema(zone: LocalDropZone) -> None:
    mesh, globex = zone.mesh, zone.partners["globex"]
    good = b'{"order_id": 4, "amount": 1.5, "day": "2026-12-04"}\n'
    _upload(globex, "globex/o4.jsonl", good)
    bad = b'{"order_id": "four", "amount": 1.5, "day": "2026-12-04"}\n'
    _upload(globex, "globex/o5.jsonl", bad)
    mesh.run_until_idle()
    assert _events(mesh, "DropZoneUploadAccepted")[-1]["source_uri"].endswith("globex/o4.jsonl")
    rejected = _events(mesh, "DropZoneUploadRejected")[-1]
    assert rejected["reason"] == "schema"
    assert "'order_id' is bigint" in rejected["message"]


# -- what the credentials cannot do ---------------------------------------------------------------


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_credentials_write_only_under_their_own_prefix(zone: LocalDropZone) -> None:
    acme = zone.partners["acme"]
    s3 = acme.s3(acme.request_credentials(900))
    bucket = zone.bucket
    # another partner's prefix, the quarantine, the bucket root, the domain's data bucket
    for target_bucket, key in [
        (bucket, "globex/x.csv"),
        (bucket, "quarantine/acme/x.csv"),
        (bucket, "x.csv"),
        (zone.domain.bucket, "products/orders/orders/x.csv"),
    ]:
        code = _denied(lambda b=target_bucket, k=key: s3.put_object(Bucket=b, Key=k, Body=b"1"))
        assert code == "AccessDenied", key
    assert "globex/x.csv" not in zone.objects()
    # put is all it may do: not read back (not even its own uploads), list or delete
    s3.put_object(Bucket=bucket, Key="acme/pending.csv", Body=ORDERS_CSV)
    assert _denied(lambda: s3.get_object(Bucket=bucket, Key="acme/pending.csv")) == "AccessDenied"
    assert _denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="acme/")) == "AccessDenied"
    assert (
        _denied(lambda: s3.delete_object(Bucket=bucket, Key="acme/pending.csv")) == "AccessDenied"
    )
    assert (
        _denied(
            lambda: s3.get_object(Bucket=zone.domain.bucket, Key="products/orders/orders/seed.csv")
        )
        == "AccessDenied"
    )
    zone.mesh.run_until_idle()


def test_moto_alone_would_have_allowed_the_out_of_prefix_write(zone: LocalDropZone) -> None:
    # The same credentials without the local mesh's guard: moto applies no session policy.
    import boto3

    acme = zone.partners["acme"]
    creds = acme.request_credentials(900)
    raw = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=zone.mesh.region,
    ).client("s3")
    raw.head_bucket(Bucket=zone.bucket)  # moto: fine (AWS: AccessDenied, see the guard test)
    guarded = acme.s3(creds)
    assert _denied(lambda: guarded.head_bucket(Bucket=zone.bucket)) == "AccessDenied"


def test_expired_credentials_are_refused(zone: LocalDropZone) -> None:
    acme = zone.partners["acme"]
    s3 = acme.s3(acme.request_credentials(900))
    s3.put_object(Bucket=zone.bucket, Key="acme/in-time.csv", Body=ORDERS_CSV)
    zone.mesh.advance(timedelta(seconds=901))
    code = _denied(lambda: s3.put_object(Bucket=zone.bucket, Key="acme/late.csv", Body=ORDERS_CSV))
    assert code == "ExpiredToken"
    zone.mesh.run_until_idle()
    assert "acme/late.csv" not in zone.objects()


# -- the vending API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"partner": "acme", "duration_seconds": 899}, 400, "900..3600"),
        ({"partner": "acme", "duration_seconds": 3601}, 400, "900..3600"),
        ({"partner": "acme", "duration_seconds": "900"}, 400, "integer"),
        ({"partner": "initech"}, 404, "no drop-zone partner 'initech'"),
        ({"partner": "globex"}, 403, "may not ask for partner 'globex'"),
        ({}, 400, "partner is required"),
    ],
)
def test_vending_refuses(
    zone: LocalDropZone, body: dict[str, Any], status: int, message: str
) -> None:
    answer = zone.partners["acme"].call_vending(body)
    assert answer["statusCode"] == status
    assert message in json.loads(answer["body"])["error"]


def test_a_principal_the_function_url_does_not_trust_cannot_call(zone: LocalDropZone) -> None:
    stranger = "arn:aws:sts::999999999999:assumed-role/intruder/x"
    answer = zone.partners["acme"].call_vending({"partner": "acme"}, caller=stranger)
    assert answer["statusCode"] == 403
    assert "resource" in json.loads(answer["body"])["message"]


def test_the_vended_session_policy_is_what_sts_received(zone: LocalDropZone) -> None:
    from moto.sts.models import sts_backends

    creds = zone.partners["acme"].request_credentials(900)
    policies = [
        r.policy
        for backend in sts_backends.values()
        for regional in backend.values()
        for r in regional.assumed_roles
        if r.access_key_id == creds["AccessKeyId"]
    ]
    assert len(policies) == 1
    policy = json.loads(policies[0])
    assert policy["Statement"] == [
        {
            "Sid": "PartnerPrefixOnly",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{zone.bucket}/acme/*",
        }
    ]
    assert len(policies[0]) <= 2048


# -- SFTP (Transfer Family identity provider) -----------------------------------------------------


def test_sftp_login_gets_the_same_rules(zone: LocalDropZone) -> None:
    from meshkit.local.policy import Request, evaluate

    zone._setting["partners"]["acme"]["public_keys"] = ["ssh-ed25519 AAAAC3Nza acme"]
    zone.enable_sftp("s-0123456789abcdef0")
    try:
        login = {"username": "acme", "protocol": "SFTP", "serverId": "s-0123456789abcdef0"}
        answer = zone.sftp_login({**login, "sourceIp": "203.0.113.7"})
        assert answer["Role"] == zone.upload_role_arn
        assert answer["PublicKeys"] == ["ssh-ed25519 AAAAC3Nza acme"]
        assert json.loads(answer["HomeDirectoryDetails"]) == [
            {"Entry": "/", "Target": f"/{zone.bucket}/acme"}
        ]
        session = [answer["Policy"]]
        inside = Request("s3:PutObject", f"arn:aws:s3:::{zone.bucket}/acme/a.csv")
        outside = Request("s3:PutObject", f"arn:aws:s3:::{zone.bucket}/globex/a.csv")
        identity = [zone.upload_policy()]
        assert evaluate(inside, identity=identity, session=session).allowed
        assert not evaluate(outside, identity=identity, session=session).allowed
        assert _events(zone.mesh, "DropZoneCredentialsIssued")[-1]["channel"] == "sftp"
        # refused: a password, another server, a partner without a key, an unknown user
        assert zone.sftp_login({**login, "password": "hunter2"}) == {}
        assert zone.sftp_login({**login, "serverId": "s-ffffffffffffffff0"}) == {}
        assert zone.sftp_login({**login, "username": "globex"}) == {}
        assert zone.sftp_login({**login, "username": "nobody"}) == {}
    finally:
        zone._setting.pop("sftp_server_id", None)
        zone._setting["partners"]["acme"].pop("public_keys", None)
