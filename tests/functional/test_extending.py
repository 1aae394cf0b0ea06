"""A team's own handler, subscribed with add_handler, runs on a real flow (docs/extending.md):
the example app's router (examples/domain/notify/app.py) with its settings, as deployed."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from meshkit.events import AccessGranted, AccessRequested, ProductRegistrationRequested, TableSpec
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv
from meshkit.runtime.router import EventRouter
from meshkit.testing import sample

if TYPE_CHECKING:
    from types import ModuleType

    from meshkit.runtime.context import HandlerContext

ROOT = Path(__file__).resolve().parents[2]
NOTIFY = ROOT / "examples" / "domain" / "notify" / "app.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notify_example_app", NOTIFY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grant_flow(mesh: LocalMesh) -> None:
    sales, marketing = mesh.domain("sales"), mesh.domain("marketing")
    sales.upload(
        "products/revenue/daily/part-0.csv", daily_revenue_csv(date(2026, 1, 1), 2, seed=1)
    )
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="revenue",
            tables=[TableSpec(name="daily", location=f"{sales.storage_uri}revenue/daily/")],
        )
    )
    mesh.run_until_idle()
    marketing.put(
        AccessRequested(
            request_id=f"req-{uuid.uuid4().hex[:12]}",
            consumer_domain="marketing",
            producer_domain="sales",
            product="revenue",
            principals=[marketing.principal("analyst")],
            purpose="dashboards",
        )
    )
    mesh.run_until_idle()


def test_custom_handler_receives_typed_events_from_central() -> None:
    seen: list[tuple[str, str, str, Any]] = []
    router = EventRouter("marketing.audit")

    @router.on(AccessGranted)
    def audit(event: AccessGranted, ctx: HandlerContext) -> None:
        seen.append(
            (
                ctx.sender_account,
                event.product,
                ctx.config.account_id,
                ctx.config.setting("level", 0),
            )
        )

    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("sales", account="222222222222")
        mesh.add_domain("marketing", account="333333333333", principals=("analyst",))
        mesh.add_handler("marketing", [AccessGranted], router, settings={"level": 3})
        mesh.run_until_idle()
        _grant_flow(mesh)
        ran = [e for e in mesh.timeline if e.group == "marketing.audit"]

    assert seen == [("111111111111", "revenue", "333333333333", 3)]
    assert [(e.handler, e.status) for e in ran] == [("audit", "ok")]


def test_example_team_handler_runs_with_its_settings() -> None:
    """The router the example app deploys with MeshFunction, with the same settings."""
    example = _example()
    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("sales", account="222222222222")
        marketing = mesh.add_domain("marketing", account="333333333333", principals=("analyst",))
        topic = marketing.client("sns").create_topic(Name="granted")["TopicArn"]
        inbox = marketing.client("sqs").create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = marketing.client("sqs").get_queue_attributes(
            QueueUrl=inbox, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        marketing.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
        mesh.add_handler(
            "marketing", [AccessGranted], example.router, settings={"topic_arn": topic}
        )
        mesh.run_until_idle()
        _grant_flow(mesh)
        messages = (
            marketing.client("sqs")
            .receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
            .get("Messages", [])
        )
        ran = [e for e in mesh.timeline if e.group == "sales.notify"]

    assert [(e.handler, e.status) for e in ran] == [("notify", "ok")]
    [message] = messages
    body = json.loads(message["Body"])
    assert body["Subject"] == "meshkit: access granted"
    assert body["Message"] == "sales.revenue -> marketing"


def test_a_look_alike_from_another_account_never_reaches_the_handler() -> None:
    calls: list[str] = []
    router = EventRouter("marketing.watch")

    @router.on(AccessGranted)
    def watch(event: AccessGranted, ctx: HandlerContext) -> None:
        calls.append(ctx.sender_account)

    opted_out: list[str] = []
    loose = EventRouter("marketing.loose")

    @loose.on(AccessGranted)
    def any_sender(event: AccessGranted, ctx: HandlerContext) -> None:
        opted_out.append(ctx.sender_account)

    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("sales", account="222222222222")
        marketing = mesh.add_domain("marketing", account="333333333333", principals=("analyst",))
        mesh.add_handler("marketing", [AccessGranted], router)
        mesh.add_handler("marketing", [AccessGranted], loose, any_sender=True)
        mesh.run_until_idle()
        # GIVEN marketing itself puts an AccessGranted on its bus (only central sends those)
        marketing.put(sample(AccessGranted))
        mesh.run_until_idle()
    # THEN the rule (from central's account only) does not match it; the opt-out one does
    assert calls == []
    assert opted_out == ["333333333333"]


def test_team_settings_may_not_shadow_meshkit_settings() -> None:
    router = EventRouter("marketing.bad")
    router.on(AccessGranted)(lambda event, ctx: None)
    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("marketing", account="333333333333")
        with pytest.raises(ValueError, match=r"\['storage_uri'\] already set"):
            mesh.add_handler("marketing", [AccessGranted], router, settings={"storage_uri": "x"})


def test_every_local_configuration_is_what_a_function_environment_carries() -> None:
    """The local mesh's configurations survive MeshConfig.to_env -> from_env unchanged: the
    same builder the constructs use, so a handler sees in Lambda what it sees locally."""
    from meshkit.runtime.config import MeshConfig

    router = EventRouter("marketing.audit")
    router.on(AccessGranted)(lambda event, ctx: None)
    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("marketing", account="333333333333")
        mesh.add_handler("marketing", [AccessGranted], router, settings={"level": 3})
        configs = [*mesh.central.configs.values()]
        for handle in mesh.domains.values():
            configs += handle.configs.values()
    assert len(configs) > 5
    for config in configs:
        assert MeshConfig.from_env(config.to_env()) == config


def test_the_local_mesh_locks_a_claim_until_the_groups_timeout() -> None:
    """The local mesh hands routers a Lambda-like context: the lock ends with the invocation."""
    import math

    locks: list[tuple[int, float]] = []
    router = EventRouter("marketing.locks")

    @router.on(AccessGranted)
    def look(event: AccessGranted, ctx: HandlerContext) -> None:
        item = ctx.client("dynamodb").get_item(
            TableName=ctx.config.idempotency_table,
            Key={"id": {"S": f"marketing.locks:look:{ctx.envelope.id}"}},
        )["Item"]
        locks.append((int(item["lock_expires_epoch"]["N"]), ctx.now().timestamp()))

    with LocalMesh(name="dev", central_account="111111111111") as mesh:
        mesh.add_domain("marketing", account="333333333333")
        mesh.add_handler("marketing", [AccessGranted], router)
        mesh.central.put(sample(AccessGranted))
        mesh.run_until_idle()
    [(lock, now)] = locks
    # A team group: the constructs' 60 s timeout from the delivery (the mesh clock runs on wall
    # time, so the handler reads it a moment later), not the 15 minutes without a context.
    assert now + 55 <= lock <= math.ceil(now + 60)
