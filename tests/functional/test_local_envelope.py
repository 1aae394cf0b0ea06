"""The envelope a handler gets is the one AWS delivers: the sender's account, after every hop."""

from __future__ import annotations

from typing import Any

import moto.events.models as events_models

from meshkit.events.aws import GlueCrawlerStateChange
from meshkit.events.domains import DomainRegistered, DomainRegistrationRequested
from meshkit.events.envelope import parse_envelope
from meshkit.events.products import ProductLinked
from meshkit.local.mesh import LocalMesh

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


def _registered(domain: str, account: str, **kw: Any) -> DomainRegistered:
    return DomainRegistered(
        domain=domain,
        account_id=account,
        central_database=domain,
        lf_tag_key="mesh_domain",
        sharing_mode="named",
        recipients=[account],
        **kw,
    )


def test_domain_to_central_keeps_the_domain_account(two_domains: LocalMesh, recorder: Any) -> None:
    # WHEN sales puts an event on its own bus (the forward rule hops it to central's bus)
    event = ProductLinked(
        domain="sales", product="orders", link_database="l", crawler_name="c", crawl_started=True
    )
    event_id = two_domains.domain("sales").put(event)
    assert two_domains.run_until_idle() == 1
    # THEN central's handler sees account = sales, the event's own id, and an AWS envelope
    (seen,) = recorder.of("central.onboarding", "ProductLinked")
    assert seen.envelope["account"] == SALES
    assert seen.envelope["id"] == event_id
    assert seen.config_account == CENTRAL
    assert seen.event.correlation_id == event.correlation_id
    assert set(seen.envelope) >= {"version", "id", "detail-type", "source", "account", "time"}
    assert parse_envelope(seen.envelope).region == "us-east-1"


def test_central_to_domain_keeps_the_central_account_and_resources(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # WHEN central addresses an event to sales (subscription rule: central bus -> sales bus)
    two_domains.central.put(
        {
            "source": DomainRegistered.SOURCE,
            "detail-type": DomainRegistered.DETAIL_TYPE,
            "detail": _registered("sales", SALES).model_dump(mode="json", by_alias=True),
            "resources": ["arn:aws:glue:us-east-1:111111111111:database/sales"],
        }
    )
    two_domains.run_until_idle()
    # THEN only sales's producer group gets it, with account = central and resources kept
    (seen,) = recorder.of("domain.producer", "DomainRegistered")
    assert seen.domain == "sales"
    assert seen.config_account == SALES
    assert seen.envelope["account"] == CENTRAL
    assert seen.envelope["resources"] == ["arn:aws:glue:us-east-1:111111111111:database/sales"]
    # and central's own groups never see central's own events
    assert recorder.of("central.onboarding") == []


def test_an_event_addressed_to_another_domain_does_not_arrive(
    two_domains: LocalMesh, recorder: Any
) -> None:
    two_domains.central.put(_registered("marketing", MARKETING))
    two_domains.run_until_idle()
    assert [s.domain for s in recorder.of("domain.producer")] == ["marketing"]


def test_put_from_forges_any_sender(two_domains: LocalMesh, recorder: Any) -> None:
    forged = DomainRegistrationRequested(
        domain="sales", account_id=SALES, storage_uri="s3://t-sales-222222222222/products/"
    )
    two_domains.put_from("999999999999", forged)
    two_domains.run_until_idle()
    (seen,) = recorder.of("central.onboarding")
    # The handler can tell the claim (detail.account_id) from the sender (envelope account).
    assert seen.envelope["account"] == "999999999999"
    assert seen.event.account_id == SALES


def test_aws_events_reach_the_crawler_rule_of_their_domain_only(
    two_domains: LocalMesh, recorder: Any
) -> None:
    detail = {"crawlerName": "t-sales-orders", "state": "Succeeded", "accountId": SALES}
    two_domains.emit_aws_event(
        SALES, GlueCrawlerStateChange.SOURCE, GlueCrawlerStateChange.DETAIL_TYPE, detail
    )
    # Started is not routed; another domain's prefix is not routed.
    two_domains.emit_aws_event(
        SALES, "aws.glue", "Glue Crawler State Change", {**detail, "state": "Started"}
    )
    two_domains.emit_aws_event(
        SALES, "aws.glue", "Glue Crawler State Change", {**detail, "crawlerName": "t-mk-x"}
    )
    two_domains.run_until_idle()
    (seen,) = recorder.of("domain.producer", "Glue Crawler State Change")
    assert seen.envelope["account"] == SALES
    assert seen.envelope["source"] == "aws.glue"
    assert seen.event.crawler_name == "t-sales-orders"


def test_patches_are_reverted_on_exit(recorder: Any) -> None:
    before = events_models.Rule.send_to_targets
    with LocalMesh(name="p", lake=False, routers=recorder.routers()):
        assert events_models.Rule.send_to_targets is not before
    assert events_models.Rule.send_to_targets is before
