"""Throttling injected and recovered; API calls and polls counted per flow window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from meshkit.events.products import ProductLinked

if TYPE_CHECKING:
    from meshkit.local.mesh import LocalMesh
    from meshkit.runtime.context import HandlerContext

CENTRAL, SALES = "111111111111", "222222222222"


def _linked(product: str) -> ProductLinked:
    return ProductLinked(
        domain="sales", product=product, link_database="l", crawler_name="c", crawl_started=True
    )


def _glue_handler(event: Any, ctx: HandlerContext) -> None:
    glue = ctx.client("glue")
    glue.create_database(DatabaseInput={"Name": event.product})
    glue.get_database(Name=event.product)


def test_throttling_is_injected_and_botocore_retries_it(
    two_domains: LocalMesh, recorder: Any
) -> None:
    recorder.behaviour["central.onboarding"] = _glue_handler
    two_domains.faults.throttle({"glue": 0.3})
    with two_domains.flow("throttled") as flow:
        for i in range(8):
            two_domains.domain("sales").put(_linked(f"p{i}"))
        two_domains.run_until_idle()
    two_domains.faults.throttle(None)
    # every database exists exactly once: throttled requests never reached moto
    names = {d["Name"] for d in two_domains.central.client("glue").get_databases()["DatabaseList"]}
    assert names == {f"p{i}" for i in range(8)}
    assert sum(two_domains.faults.injected.values()) > 0
    assert set(two_domains.faults.injected) <= {"glue.CreateDatabase", "glue.GetDatabase"}
    # a retried call is still one call
    assert flow.stats.calls_by_operation["glue.CreateDatabase"] >= 8
    assert two_domains.dead_letters() == []


def test_exhausted_retries_surface_as_throttling(two_domains: LocalMesh) -> None:
    two_domains.faults.throttle({"glue": 1.0})
    with pytest.raises(ClientError) as info:
        two_domains.central.client("glue").get_databases()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    two_domains.faults.throttle(None)
    assert two_domains.central.client("glue").get_databases()["DatabaseList"] == []


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("s3", lambda c: c.list_buckets(), "SlowDown"),
        ("sts", lambda c: c.get_caller_identity(), "Throttling"),
        ("dynamodb", lambda c: c.list_tables(), "ThrottlingException"),
        ("lakeformation", lambda c: c.list_permissions(), "ThrottlingException"),
        ("events", lambda c: c.list_event_buses(), "ThrottlingException"),
    ],
)
def test_throttling_speaks_each_protocol(
    mesh: LocalMesh, service: str, call: Any, code: str
) -> None:
    mesh.faults.throttle({service: 1.0})
    with pytest.raises(ClientError) as info:
        call(mesh.central.client(service))
    assert info.value.response["Error"]["Code"] == code


def test_throttle_share_is_validated(mesh: LocalMesh) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        mesh.faults.throttle({"glue": 1.5})
    with pytest.raises(ValueError, match="unknown service 'nope'"):
        mesh.faults.throttle({"nope": 0.1})


def test_accounting_counts_handler_and_driver_calls_and_polls(
    two_domains: LocalMesh, recorder: Any
) -> None:
    def poller(event: Any, ctx: HandlerContext) -> None:
        glue = ctx.client("glue")
        glue.create_crawler(
            Name="t-sales-x", Role="arn:aws:iam::111111111111:role/r", Targets={"S3Targets": []}
        )
        glue.get_crawler(Name="t-sales-x")
        glue.get_crawler(Name="t-sales-x")

    recorder.behaviour["central.onboarding"] = poller
    with two_domains.flow("outer") as outer:
        with two_domains.flow("product_registration") as flow:
            two_domains.domain("sales").put(_linked("orders"))
            two_domains.run_until_idle()
        two_domains.central.client("glue").get_databases()
    stats = flow.stats
    assert stats.name == "product_registration"
    assert stats.ok
    assert stats.events == 1
    assert stats.polls == 2
    # the driver's PutEvents, the handler's 3 Glue calls, and the router's idempotency writes;
    # the mesh's own queue polling is not counted
    assert stats.calls_by_operation["events.PutEvents"] == 1
    assert stats.calls_by_operation["glue.CreateCrawler"] == 1
    assert stats.calls_by_operation["glue.GetCrawler"] == 2
    assert not any(op.startswith("sqs.") for op in stats.calls_by_operation)
    assert stats.api_calls == sum(stats.calls_by_operation.values())
    assert stats.seconds > 0
    assert outer.stats.api_calls == stats.api_calls + 1
    assert [f.name for f in two_domains.accounting.flows] == ["product_registration", "outer"]


def test_a_flow_that_raises_is_not_ok(mesh: LocalMesh) -> None:
    with pytest.raises(RuntimeError), mesh.flow("boom") as flow:
        raise RuntimeError("x")
    assert flow.stats.ok is False
