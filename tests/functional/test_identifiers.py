"""Identifiers are checked at the boundary: ASCII account ids, known ARN partitions, S3 bucket
names by S3's rules. A bad one is rejected visibly (DLQ + EventRejected naming the rule) and
changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, FINANCE = "111111111111", "222222222222", "444444444444"


@pytest.fixture(scope="module")
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1, lake=False) as m:
        m.add_domain("sales", account=SALES)
        m.add_domain("finance", account=FINANCE, principals=("controller",))
        m.run_until_idle()
        yield m


def _registry(mesh: LocalMesh) -> list[dict[str, Any]]:
    ddb = mesh.central.client("dynamodb")
    return sorted(ddb.scan(TableName=mesh.central.config.registry_table)["Items"], key=json.dumps)


def _send(mesh: LocalMesh, detail_type: str, source: str, detail: dict[str, Any]) -> None:
    finance = mesh.domain("finance")
    finance.client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, ensure_ascii=False),
                "EventBusName": finance.bus,
            }
        ]
    )
    mesh.run_until_idle()


def _registration(account_id: str, storage_uri: str) -> dict[str, Any]:
    return {"domain": "finance_two", "account_id": account_id, "storage_uri": storage_uri}


BAD_REGISTRATIONS = {
    "arabic-indic digits": (_registration("\u0664" * 12, "s3://fin-two/p/"), "account_id"),
    "full-width digits": (_registration("\uff14" * 12, "s3://fin-two/p/"), "account_id"),
    "bucket as ip address": (_registration(FINANCE, "s3://192.168.10.1/p/"), "IP address"),
    "bucket with ..": (_registration(FINANCE, "s3://fin..two/p/"), "'..'"),
    "bucket with .-": (_registration(FINANCE, "s3://fin.-two/p/"), "'..'"),
    "reserved bucket prefix": (_registration(FINANCE, "s3://xn--fin-two/p/"), "reserved"),
}


@pytest.mark.parametrize("case", sorted(BAD_REGISTRATIONS))
def test_bad_identifier_in_registration_is_rejected_visibly(mesh: LocalMesh, case: str) -> None:
    detail, rule = BAD_REGISTRATIONS[case]
    before = _registry(mesh)
    reports_before = len(mesh.published("EventRejected"))
    _send(mesh, "DomainRegistrationRequested", "meshkit.domains", detail)
    assert _registry(mesh) == before
    reports = mesh.published("EventRejected")[reports_before:]
    assert len(reports) == 1
    assert reports[0]["kind"] == "validation"
    assert rule in reports[0]["reason"]


@pytest.mark.parametrize(
    "principal",
    [
        "arn:awsx:iam::444444444444:role/controller",
        "arn:aws-evil:iam::444444444444:role/controller",
        "arn:aws:iam::" + "\u0664" * 12 + ":role/controller",
    ],
)
def test_principal_outside_known_partitions_is_rejected(mesh: LocalMesh, principal: str) -> None:
    before = _registry(mesh)
    reports_before = len(mesh.published("EventRejected"))
    detail = {
        "request_id": "req-partition-0001",
        "producer_domain": "sales",
        "product": "orders",
        "consumer_domain": "finance",
        "purpose": "month-end close",
        "principals": [principal],
    }
    _send(mesh, "AccessRequested", "meshkit.access", detail)
    assert _registry(mesh) == before
    reports = mesh.published("EventRejected")[reports_before:]
    assert len(reports) == 1
    assert reports[0]["kind"] == "validation"
    assert "principals" in reports[0]["reason"]


def test_known_partitions_are_accepted_by_the_types() -> None:
    from pydantic import TypeAdapter

    from meshkit.events.types import ARN_PARTITIONS, IamRoleArn

    adapter = TypeAdapter(IamRoleArn)
    for partition in ARN_PARTITIONS:
        arn = f"arn:{partition}:iam::444444444444:role/controller"
        assert adapter.validate_python(arn) == arn
