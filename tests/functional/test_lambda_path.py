"""The Lambda entrypoint runs the very handlers the local mesh runs, configured only by the
MESHKIT_* environment the constructs set and the function's own credentials."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from meshkit.events import DomainRegistrationRequested, delivered_envelope
from meshkit.local.mesh import LocalMesh
from meshkit.runtime import lambda_entry, router

if TYPE_CHECKING:
    from collections.abc import Iterator

CENTRAL, SALES = "111111111111", "222222222222"


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalMesh]:
    with LocalMesh(name="lam", central_account=CENTRAL) as mesh:
        mesh.add_domain("sales", account=SALES, register=False)
        config = mesh.central.configs["central.onboarding"]
        for name, value in config.to_env().items():
            monkeypatch.setenv(name, value)
        # The function's execution role: credentials of the central account only.
        creds = mesh.session(CENTRAL).get_credentials().get_frozen_credentials()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        monkeypatch.setenv("AWS_SESSION_TOKEN", creds.token)
        monkeypatch.setenv("AWS_REGION", mesh.region)
        monkeypatch.setattr(router, "_DEFAULT_RUNTIME", None)

        # What moto lacks (Lake Formation/RAM across accounts) comes from the local mesh's lake
        # simulation, attached to every session: also to the one the function creates itself.
        lake = mesh.lake

        class AttachedSession(boto3.session.Session):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                lake.attach(CENTRAL, self)

        monkeypatch.setattr(boto3.session, "Session", AttachedSession)
        yield mesh
    router._DEFAULT_RUNTIME = None


def _sqs_batch(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for body in bodies
        ]
    }


def test_lambda_entrypoint_registers_a_domain_like_the_local_mesh(lambda_env: LocalMesh) -> None:
    mesh = lambda_env
    sales = mesh.domain("sales")
    event = DomainRegistrationRequested(
        domain="sales", account_id=SALES, storage_uri=sales.storage_uri
    )
    forged = DomainRegistrationRequested(
        domain="evil", account_id=CENTRAL, storage_uri=sales.storage_uri
    )
    batch = _sqs_batch(
        delivered_envelope(event, account=SALES, region=mesh.region),
        delivered_envelope(forged, account=SALES, region=mesh.region),
        {"not": "an event"},
    )
    monkey_group = "central.onboarding"
    assert lambda_entry.load_router(monkey_group).name == monkey_group

    answer = lambda_entry.handler(batch, None)

    # Rejected input is dead-lettered by the router itself: nothing is left to retry.
    assert answer == {"batchItemFailures": []}
    ddb = mesh.central.client("dynamodb")
    table = mesh.central.configs[monkey_group].registry_table
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "DOMAIN#sales"}, "sk": {"S": "META"}})
    assert item["Item"]["account_id"]["S"] == SALES
    missing = ddb.get_item(TableName=table, Key={"pk": {"S": "DOMAIN#evil"}, "sk": {"S": "META"}})
    assert "Item" not in missing
    # DomainRegistered went out on the central bus and reaches the domain through its rule.
    mesh.run_until_idle()
    assert any(e.detail_type == "DomainRegistered" and e.domain == "sales" for e in mesh.timeline)
    letters = mesh.dead_letters(CENTRAL)
    assert len(letters) == 2
