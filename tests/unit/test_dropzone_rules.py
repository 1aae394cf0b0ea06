"""Drop-zone rules without AWS: upload validation, partner settings, the vended session policy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from meshkit.handlers.dropzone import (
    MAX_SESSION_POLICY_CHARS,
    DropZoneSettings,
    Partner,
    session_policy,
)
from meshkit.handlers.uploads import ColumnRule, UploadInvalid, validate_upload
from meshkit.local.policy import Request, evaluate

COLUMNS = (ColumnRule("id", "bigint"), ColumnRule("price", "double"), ColumnRule("ok", "boolean"))


@pytest.mark.parametrize(
    ("key", "data", "fmt", "rows"),
    [
        ("a.csv", b"id,price,ok\n1,2.5,true\n2,,false\n", "csv", 2),
        ("a.csv", b"\xef\xbb\xbfid,price,ok\n1,2.5,true\n", "csv", 1),  # UTF-8 BOM
        ("a.csv", b'id,price,ok\n1,"2.5",TRUE\n\n', "csv", 1),
        (
            "a.jsonl",
            b'{"id": 1, "price": 2, "ok": true}\n{"id": 2, "price": null, "ok": false}\n',
            "json",
            2,
        ),
        ("a.parquet", b"PAR1" + b"\x00" * 8 + (8).to_bytes(4, "little") + b"PAR1", "parquet", 0),
    ],
)
def test_valid_uploads(key: str, data: bytes, fmt: Any, rows: int) -> None:
    checked = validate_upload(key, data, format=fmt, max_bytes=1000, columns=COLUMNS)
    assert (checked.format, checked.rows) == (fmt, rows)


@pytest.mark.parametrize(
    ("key", "data", "fmt", "reason", "message"),
    [
        ("a.csv", b"", "csv", "size", "empty"),
        ("a.csv", b"x" * 1001, "csv", "size", "over the 1000"),
        ("a.txt", b"id,price,ok\n", "csv", "format", "name ending in .csv"),
        ("a.csv", b"\n", "csv", "format", "needs a header"),
        ("a.csv", b"id,id,ok\n", "csv", "format", "repeats a column"),
        ("a.csv", b"price,id,ok\n", "csv", "schema", "(order)"),
        ("a.csv", b"id,price,ok,extra\n", "csv", "schema", "unexpected ['extra']"),
        ("a.csv", b"id,price,ok\n1,2,maybe\n", "csv", "schema", "line 2: column 'ok' is boolean"),
        ("a.csv", b'id,price,ok\n1,"2\n', "csv", "format", "not valid CSV"),
        ("a.json", b"[1, 2]\n", "json", "format", "must be an object"),
        ("a.json", b"{bad\n", "json", "format", "line 1: not JSON"),
        ("a.json", b"\n\n", "json", "format", "no JSON record"),
        ("a.json", b'{"id": 1, "price": 2}\n', "json", "schema", "lacks ['ok']"),
        ("a.json", b'{"id": 1, "price": 2, "ok": true, "x": 1}\n', "json", "schema", "unexpected"),
        ("a.json", b'{"id": true, "price": 2, "ok": true}\n', "json", "schema", "'id' is bigint"),
        ("a.parquet", b"PAR1 not really", "parquet", "format", "PAR1 magic"),
        (
            "a.parquet",
            b"PAR1" + b"\x00" * 8 + (99).to_bytes(4, "little") + b"PAR1",
            "parquet",
            "format",
            "footer length",
        ),
    ],
)
def test_invalid_uploads(key: str, data: bytes, fmt: Any, reason: str, message: str) -> None:
    with pytest.raises(UploadInvalid, match=re.escape(message)) as caught:
        validate_upload(key, data, format=fmt, max_bytes=1000, columns=COLUMNS)
    assert caught.value.reason == reason


def test_unknown_column_type_is_refused() -> None:
    with pytest.raises(ValueError, match="type 'money'"):
        ColumnRule("x", "money")


def _settings(**partner: Any) -> dict[str, Any]:
    return {
        "dropzone": {
            "bucket": "lake-dz",
            "upload_role_arn": "arn:aws:iam::222222222222:role/upload",
            "partners": {
                "acme": {"product": "orders", "target_uri": "s3://lake/products/o/", **partner}
            },
        }
    }


@pytest.mark.parametrize(
    ("partner", "message"),
    [
        ({"target_uri": "s3://lake/no-slash"}, "must be s3://bucket/prefix/"),
        ({"format": "xml"}, "format 'xml'"),
        ({"max_bytes": 0}, "max_bytes must be positive"),
        ({"colour": "red"}, "unknown setting"),
        ({"product": ""}, "product is required"),
    ],
)
def test_partner_settings_are_checked(partner: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DropZoneSettings.of(_settings(**partner))


def test_settings_need_the_dropzone_entry_and_sane_bounds() -> None:
    with pytest.raises(RuntimeError, match="setting 'dropzone' is missing"):
        DropZoneSettings.of({})
    bad = _settings()
    bad["dropzone"]["max_session_seconds"] = 50_000
    with pytest.raises(ValueError, match=r"900\.\.43200"):
        DropZoneSettings.of(bad)
    bad["dropzone"]["max_session_seconds"] = 3600
    bad["dropzone"]["upload_role_arn"] = "upload"
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        DropZoneSettings.of(bad)


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [
        ("arn:aws:iam::777777777777:role/acme-uploader", True),
        ("arn:aws:sts::777777777777:assumed-role/acme-uploader/session-1", True),
        ("arn:aws:sts::777777777777:assumed-role/other/session-1", False),
        ("arn:aws:sts::888888888888:assumed-role/acme-uploader/session-1", False),
        ("arn:aws:iam::777777777777:user/acme-uploader", False),
    ],
)
def test_partner_principals_admit_their_sessions(caller: str, allowed: bool) -> None:
    partner = Partner.from_setting(
        "acme",
        {
            "product": "orders",
            "target_uri": "s3://lake/p/",
            "principals": ["arn:aws:iam::777777777777:role/acme-uploader"],
        },
    )
    assert partner.allows(caller) is allowed


def test_session_policy_is_put_only_under_the_prefix_and_small() -> None:
    policy = session_policy("lake-dz", "acme")
    assert len(policy) <= MAX_SESSION_POLICY_CHARS
    assert json.loads(policy)["Statement"][0]["Action"] == "s3:PutObject"
    role = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    for action, key, expected in [
        ("s3:PutObject", "acme/a.csv", True),
        ("s3:PutObject", "acme-other/a.csv", False),
        ("s3:PutObject", "quarantine/acme/a.csv", False),
        ("s3:GetObject", "acme/a.csv", False),
        ("s3:DeleteObject", "acme/a.csv", False),
    ]:
        request = Request(action, f"arn:aws:s3:::lake-dz/{key}")
        assert evaluate(request, identity=[role], session=[policy]).allowed is expected, (
            action,
            key,
        )
    # the longest legal bucket name still fits; an invalid partner name never gets a policy
    assert len(session_policy("b" * 63, "p" * 32)) <= MAX_SESSION_POLICY_CHARS
    with pytest.raises(ValueError, match="partner"):
        session_policy("lake-dz", "../etc")
