"""The publication handlers against DataZone's real API model.

Every call of a full flow (publish, republish, subscribe, approve, revoke, deprecate) is replayed
through botocore's ``Stubber`` on a real DataZone client: botocore validates each request and
Stubber each answer against the service model. The shapes of the operations used are kept in a
snapshot, so a botocore upgrade that changes one fails here rather than on AWS. The IAM actions
CentralGovernance grants are exactly the operations the handlers call.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from meshkit.events.access import AccessDecided, AccessRevoked
from meshkit.events.products import ProductDeprecated, ProductRegistrationRequested, TableSpec
from meshkit.handlers.publication import DATAZONE_ACTIONS
from meshkit.local.datazone import model_problems
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import orders_parquet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"
SNAPSHOT = Path(__file__).with_name("datazone_shapes.json")
#: Calls a DataZone user makes in these scenarios, not meshkit's handlers.
USER_OPERATIONS = {"SearchListings", "CreateSubscriptionRequest"}


@pytest.fixture(scope="module")
def calls() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    with LocalMesh(name="c", central_account=CENTRAL, seed=9, datazone=True) as mesh:
        mesh.add_domain("sales", account=SALES, datazone_project="sales")
        mesh.add_domain("marketing", account=MARKETING, datazone_project="marketing")
        mesh.run_until_idle()
        sales = mesh.domain("sales")
        sales.upload(
            "products/orders/orders/part-0.parquet", orders_parquet(date(2026, 11, 1), 5, seed=1)
        )
        base = sales.storage_uri.rstrip("/")
        # Two of DataZone's events are lost: the reconcile's reads are in the contract too.
        mesh.datazone.lose_events = ["Environment Deployment Completed", "Data Source Created"]
        sales.put(
            ProductRegistrationRequested(
                domain="sales",
                product="orders",
                description="orders for the contract test",
                tables=[
                    TableSpec(
                        name="orders", location=f"{base}/orders/orders/", pii_columns=["email"]
                    )
                ],
            )
        )
        mesh.run_until_idle()
        for _ in range(2):
            mesh.advance(timedelta(hours=1))
            mesh.run_until_idle()
        dz, did = mesh.datazone, mesh.datazone_domain_id
        client = mesh.central.client("datazone")
        (hit,) = client.search_listings(domainIdentifier=did, searchText="orders")["items"]
        sub = client.create_subscription_request(
            domainIdentifier=did,
            subscribedPrincipals=[{"project": {"identifier": dz.project_id(did, "marketing")}}],
            subscribedListings=[{"identifier": hit["assetListing"]["listingId"]}],
            requestReason="contract test",
        )["id"]
        mesh.run_until_idle()
        rid = f"dz-{sub}"
        sales.put(AccessDecided(request_id=rid, approved=True, decided_by="owner", reason="ok"))
        mesh.run_until_idle()
        sales.put(AccessRevoked(request_id=rid, reason="ended", revoked_by="owner"))
        mesh.run_until_idle()
        # A project bound to no domain: the subscription is rejected in DataZone.
        client.create_subscription_request(
            domainIdentifier=did,
            subscribedPrincipals=[{"project": {"identifier": dz.create_project(did, "interns")}}],
            subscribedListings=[{"identifier": hit["assetListing"]["listingId"]}],
            requestReason="contract test, unbound",
        )
        mesh.run_until_idle()
        sales.put(ProductDeprecated(domain="sales", product="orders", reason="v2"))
        mesh.run_until_idle()
        assert mesh.dead_letters() == []
        return list(dz.calls)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_call_replays_through_stubber(calls: list[Any]) -> None:
    client = botocore.session.get_session().create_client(
        "datazone",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        for op, params, parsed in calls:
            expected = {k: (ANY if k == "clientToken" else v) for k, v in params.items()}
            response = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            stubber.add_response(_snake(op), response, expected_params=expected)
            getattr(client, _snake(op))(**params)
        stubber.assert_no_pending_responses()


def test_granted_actions_are_exactly_the_handlers_calls(calls: list[Any]) -> None:
    called = {f"datazone:{op}" for op, _, _ in calls if op not in USER_OPERATIONS}
    assert called == set(DATAZONE_ACTIONS)


def _describe(shape: Any, depth: int = 0, seen: tuple[str, ...] = ()) -> Any:
    """The parts of a shape that make a request valid or an answer readable."""
    if shape is None:
        return None
    out: dict[str, Any] = {"type": shape.type_name}
    for key in ("min", "max", "pattern"):
        if key in shape.metadata:
            out[key] = shape.metadata[key]
    if getattr(shape, "enum", None):
        out["enum"] = list(shape.enum)
    if shape.name in seen or depth > 6:
        out["ref"] = shape.name
        return out
    seen = (*seen, shape.name)
    if shape.type_name == "structure":
        out["required"] = sorted(shape.required_members)
        out["members"] = {k: _describe(v, depth + 1, seen) for k, v in shape.members.items()}
    elif shape.type_name == "list":
        out["member"] = _describe(shape.member, depth + 1, seen)
    elif shape.type_name == "map":
        out["value"] = _describe(shape.value, depth + 1, seen)
    return out


def _current(operations: set[str]) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("datazone")
    return {
        op: {
            "input": _describe(model.operation_model(op).input_shape),
            "output": _describe(model.operation_model(op).output_shape),
        }
        for op in sorted(operations)
    }


def test_the_shapes_used_are_the_snapshot(calls: list[Any]) -> None:
    current = _current({op for op, _, _ in calls})
    if os.environ.get("MESHKIT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    changed = sorted(op for op in current if recorded.get(op) != current[op])
    assert not changed, (
        f"botocore's DataZone model changed for {changed}: check meshkit.handlers.publication "
        "and meshkit.local.datazone against it, then regenerate with MESHKIT_UPDATE_SNAPSHOTS=1"
    )


def test_the_model_limits_botocore_leaves_out_are_enforced() -> None:
    model = botocore.session.get_session().get_service_model("datazone")
    shape = model.operation_model("CreateSubscriptionRequest").input_shape
    problems = model_problems(
        shape,
        {
            "domainIdentifier": "bad id!!",
            "requestReason": "x" * 5000,
            "subscribedPrincipals": [{"project": {"identifier": "p"}}] * 2,
            "subscribedListings": [{"identifier": "l"}],
        },
    )
    text = "; ".join(problems)
    assert "domainIdentifier" in text
    assert "pattern" in text
    assert "requestReason: 5000 characters, at most 4096" in text
    assert "subscribedPrincipals: 2 items, at most 1" in text
    status = model.operation_model("ListDataSources").input_shape
    assert model_problems(status, {"status": "NOT_AN_ENUM"})  # enums too


def test_a_call_outside_the_model_is_refused_by_the_simulation() -> None:
    with LocalMesh(name="v", central_account=CENTRAL, datazone=True) as mesh:
        client = mesh.central.client("datazone")
        with pytest.raises(client.exceptions.ValidationException, match="at most 4096"):
            client.create_subscription_request(
                domainIdentifier=mesh.datazone_domain_id,
                subscribedPrincipals=[{"project": {"identifier": "p1"}}],
                subscribedListings=[{"identifier": "l1"}],
                requestReason="x" * 5000,
            )
