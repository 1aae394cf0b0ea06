"""The operator's verbs (meshkit access/registry/trace/replay/local) on a local mesh, the
persisted mesh across commands, and the AWS path through botocore's Stubber."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import ANY
from stub_support import StubbedSession

from meshkit import operate
from meshkit.cli import main
from meshkit.local.mesh import LocalMesh
from meshkit.local.persist import SEED_CORRELATION_IDS, LiveMesh, seed_mesh

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def live() -> Iterator[LiveMesh]:
    with LocalMesh(name="demo", central_account="111111111111") as mesh:
        seed_mesh(mesh, rows_per_day=5)
        yield LiveMesh(mesh, None, None)


@pytest.fixture
def cli(live: LiveMesh, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``meshkit ...`` against the module's running mesh: (status, stdout, stderr)."""

    @contextmanager
    def target(args: Any) -> Iterator[operate.LocalTarget]:
        yield operate.LocalTarget(live)

    monkeypatch.setattr(operate, "_target", target)

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def test_registry_listings_as_json(cli: Any) -> None:
    status, out, _ = cli("registry", "products", "--json")
    assert status == 0
    products = {p["product"]: p for p in json.loads(out)}
    assert set(products) == {"sales.orders", "sales.revenue"}
    assert products["sales.orders"]["pii"] is True
    assert products["sales.revenue"]["pii"] is False
    status, out, _ = cli("registry", "domains", "--json")
    assert {d["domain"] for d in json.loads(out)} == {"sales", "marketing", "finance"}


def test_request_approve_trace_as_the_handlers_see_it(cli: Any, live: LiveMesh) -> None:
    status, out, _ = cli(
        "access",
        "request",
        "sales.orders",
        "--as",
        "marketing",
        "--principal",
        "analyst",
        "--purpose",
        "attribution",
        "--request-id",
        "req-op-00000001",
        "--json",
    )
    assert status == 0, out
    sent = json.loads(out)
    assert sent["state"] == "PENDING"
    status, out, _ = cli("access", "pending", "--as", "sales", "--json")
    assert [r["request_id"] for r in json.loads(out)] == ["req-op-00000001"]

    # A consumer may not decide: refused locally, in central's own words, nothing sent.
    before = len(live.mesh.timeline)
    status, _, err = cli(
        "access", "approve", "req-op-00000001", "--as", "marketing", "--reason", "x"
    )
    assert status == operate.EXIT_REFUSED
    assert err.count("\n") == 1
    assert "only the producer's account 222222222222 may" in err
    assert len(live.mesh.timeline) == before

    status, out, _ = cli("access", "approve", "req-op-00000001", "--as", "sales", "--reason", "ok")
    assert status == 0
    assert "request is APPROVED" in out
    assert live.mesh.request("req-op-00000001").state == "APPROVED"

    # A second decision: central's check says it is decided once only.
    status, _, err = cli("access", "deny", "req-op-00000001", "--as", "sales", "--reason", "no")
    assert status == operate.EXIT_REFUSED
    assert "is APPROVED, not pending: decided once only" in err

    status, out, _ = cli("trace", sent["correlation_id"], "--json")
    steps = json.loads(out)
    assert "timeline" in steps["source"]
    events = [s["event"] for s in steps["steps"]]
    assert events.index("AccessRequested") < events.index("AccessDecided")
    assert events.index("AccessDecided") < events.index("AccessLinked")
    status, out, _ = cli("access", "show", "req-op-00000001", "--json")
    assert json.loads(out)["decided_by"] == "arn:aws:iam::222222222222:role/data-owner"


def test_mistyped_names_get_close_matches(cli: Any) -> None:
    status, _, err = cli(
        "access", "request", "sales.order", "--as", "marketing", "--principal", "analyst",
        "--purpose", "x",
    )  # fmt: skip
    assert status == operate.EXIT_NOT_FOUND
    assert "did you mean 'sales.orders'" in err
    status, _, err = cli("access", "show", "req-op-0000001")
    assert status == operate.EXIT_NOT_FOUND
    assert "did you mean 'req-op-00000001'" in err
    status, _, err = cli("access", "pending", "--as", "sales", "--json")
    assert status == 0
    status, _, err = cli("events", "show", "AccesRequested")
    assert status == 2
    assert "did you mean 'AccessRequested'" in err
    status, _, err = cli("access", "approve", "req-op-00000001", "--as", "sale", "--reason", "x")
    assert status == 2
    assert "did you mean 'sales'" in err


def test_trace_of_the_seed_and_replay(cli: Any, live: LiveMesh) -> None:
    status, out, _ = cli("trace", SEED_CORRELATION_IDS[0])
    assert status == 0
    assert "ProductSchemaUpdated" in out
    status, _, err = cli("trace", "00000000-0000-4000-8000-000000000000")
    assert status == operate.EXIT_NOT_FOUND
    states = {r.request_id: r.state for r in live.mesh.registry.requests()}
    status, out, _ = cli("replay", "--since", "2026-01-01T00:00:00Z", "--json")
    assert status == 0
    assert json.loads(out)["destination"] == live.mesh.central.resources.bus_arn
    # Replayed events meet the same handlers: nothing decided twice, nothing lost.
    assert {r.request_id: r.state for r in live.mesh.registry.requests()} == states
    status, _, err = cli("replay", "--since", "yesterday")
    assert status == 2
    assert "ISO 8601" in err


# -- AWS, stubbed ----------------------------------------------------------------------------


def _ddb_item(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in values.items()}


def test_aws_approve_is_checked_then_put_on_the_callers_bus() -> None:
    session = StubbedSession()
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    target = operate.AwsTarget(
        session, bus="sales-bus", registry_table="registry", clock=lambda: now
    )
    request = {
        "pk": "REQUEST#req-aws-0001",
        "sk": "META",
        "request_id": "req-aws-0001",
        "state": "PENDING",
        "consumer_domain": "marketing",
        "consumer_account": "333333333333",
        "producer_domain": "sales",
        "producer_account": "222222222222",
        "product": "orders",
        "central_database": "demo_sales",
        "tables": ["orders"],
        "principals": ["arn:aws:iam::333333333333:role/analyst"],
        "permissions": ["SELECT"],
        "sharing_mode": "named",
        "expires_at": "2026-12-10T00:00:00Z",
        "correlation_id": "0b4e7c1e-4c1f-4f43-9c3e-1f1f1f1f1f1f",
    }
    domain = {
        "pk": "DOMAIN#sales",
        "sk": "META",
        "domain": "sales",
        "account_id": "222222222222",
        "storage_uri": "s3://b/p/",
        "sharing_mode": "named",
        "central_database": "demo_sales",
        "status": "ACTIVE",
    }
    ddb = session.stub("dynamodb")
    ddb.add_response("scan", {"Items": [_ddb_item(domain)]}, {
        "TableName": "registry", "FilterExpression": ANY, "ExpressionAttributeValues": ANY,
        "ConsistentRead": True,
    })  # fmt: skip
    key = {"TableName": "registry", "Key": ANY, "ConsistentRead": True}
    ddb.add_response("get_item", {"Item": _ddb_item(request)}, key)
    ddb.add_response("get_item", {"Item": _ddb_item(domain)}, key)
    session.stub("sts").add_response(
        "get_caller_identity",
        {
            "Account": "222222222222",
            "Arn": "arn:aws:sts::222222222222:assumed-role/data-owner/ana",
            "UserId": "AROA:ana",
        },
    )
    session.stub("events").add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
        {"Entries": ANY},
    )

    class Args:
        action, request_id, reason, as_domain, by = "approve", "req-aws-0001", "fine", "sales", None

    import io

    out = io.StringIO()
    assert operate.cmd_access_decide(Args(), target, out) == 0  # type: ignore[arg-type]
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()
    put = session.stubs["events"]
    assert put is not None
    assert "approved req-aws-0001 as sales (event e-1)" in out.getvalue()


def test_aws_replay_and_trace_read_the_archive_and_logs() -> None:
    session = StubbedSession()
    target = operate.AwsTarget(
        session, archive="demo-archive", log_groups=["/aws/lambda/central-access"]
    )
    archive_arn = "arn:aws:events:eu-west-1:111111111111:archive/demo-archive"
    bus_arn = "arn:aws:events:eu-west-1:111111111111:event-bus/meshkit-demo-central"
    events = session.stub("events")
    events.add_response(
        "describe_archive",
        {"ArchiveArn": archive_arn, "ArchiveName": "demo-archive", "EventSourceArn": bus_arn},
        {"ArchiveName": "demo-archive"},
    )
    since = datetime(2026, 12, 1, tzinfo=UTC)
    until = datetime(2026, 12, 2, tzinfo=UTC)
    events.add_response(
        "start_replay",
        {"ReplayArn": "arn:aws:events:eu-west-1:111111111111:replay/r", "State": "STARTING"},
        {
            "ReplayName": ANY,
            "EventSourceArn": archive_arn,
            "EventStartTime": since,
            "EventEndTime": until,
            "Destination": {"Arn": bus_arn},
        },
    )
    started = target.replay(since, until)
    assert started["state"] == "STARTING"
    assert started["destination"] == bus_arn

    cid = "0b4e7c1e-4c1f-4f43-9c3e-1f1f1f1f1f1f"
    logs = session.stub("logs")
    params = {"logGroupName": "/aws/lambda/central-access", "filterPattern": f'"{cid}"'}
    logs.add_response(
        "filter_log_events",
        {"events": [{"timestamp": 1_764_900_000_500, "message": f"[{cid}] decided\n"}],
         "nextToken": "t"},
        params,
    )  # fmt: skip
    logs.add_response(
        "filter_log_events",
        {"events": [{"timestamp": 1_764_900_000_000, "message": f"[{cid}] requested"}]},
        {**params, "nextToken": "t"},
    )
    source, rows = target.trace(cid)
    assert "CloudWatch Logs" in source
    assert [r["detail"] for r in rows] == [f"[{cid}] requested", f"[{cid}] decided"]
