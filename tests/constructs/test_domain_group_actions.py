"""Each domain handler group's role holds its own Glue, Lake Formation and RAM actions: those its
handlers' boto3 calls need (found in the code), and no other group's."""

from __future__ import annotations

from typing import Any

import pytest
from test_central_group_actions import code_actions

from meshkit import topology
from meshkit.constructs import _iam

DOMAIN_GROUPS = [g for g in topology.GROUPS if g.role == "domain"]
LISTED_SERVICES = ("glue", "lakeformation", "ram")
#: Listed without a call in the group's code: Glue resolves a resource link's target in
#: central's catalog as the caller (UNUSED_GRANT_REASONS).
LINK_TARGET_READS = {"glue:GetDatabase", "glue:GetTable"}
RAM = {"ram:GetResourceShareInvitations", "ram:AcceptResourceShareInvitation"}
#: The producer's crawler statement (DomainCrawlers), scoped to the domain's crawler names.
CRAWLERS = {"glue:CreateCrawler", "glue:UpdateCrawler", "glue:StartCrawler"}


def _listed(group: str) -> set[str]:
    listed = _iam.DOMAIN_GROUP_ACTIONS[group]
    return (
        set(listed.own_catalog)
        | set(listed.central_catalog)
        | set(listed.lakeformation)
        | (RAM if listed.accepts_shares else set())
    )


def _role_actions(template: dict[str, Any], group: str) -> set[str]:
    description = f"meshkit {group} handler"
    (role,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("Description") == description
    ]
    return {
        a
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


def test_every_domain_group_has_its_own_list() -> None:
    assert {g.name for g in DOMAIN_GROUPS} == set(_iam.DOMAIN_GROUP_ACTIONS)


@pytest.mark.parametrize("group", DOMAIN_GROUPS, ids=lambda g: g.name)
def test_list_is_what_the_code_calls(group: topology.HandlerGroup) -> None:
    needed = {a for a in code_actions(group) if a.split(":")[0] in LISTED_SERVICES}
    if group.name == "domain.producer":
        assert needed >= CRAWLERS  # a check on the finder: the producer starts crawlers
        needed -= CRAWLERS
    else:
        assert not needed & CRAWLERS
    listed = _listed(group.name)
    assert needed <= listed
    assert listed - needed <= LINK_TARGET_READS


@pytest.mark.parametrize(
    "group", [g for g in DOMAIN_GROUPS if g.feature is None], ids=lambda g: g.name
)
def test_each_group_role_holds_its_list_only(
    domain: dict[str, Any], group: topology.HandlerGroup
) -> None:
    actions = _role_actions(domain, group.name)
    mine = {a for a in actions if a.split(":")[0] in LISTED_SERVICES}
    expected = _listed(group.name) | (CRAWLERS if group.name == "domain.producer" else set())
    assert mine == expected
    assert all("*" not in a for a in mine)


def test_an_approval_topic_setting_lets_the_producer_publish_there() -> None:
    import aws_cdk as cdk

    from meshkit.constructs import DataDomain

    topic = "arn:aws:sns:eu-west-1:222222222222:approvals"
    app = cdk.App()
    stack = cdk.Stack(app, "D", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    DataDomain(
        stack,
        "Domain",
        mesh_name="demo",
        domain_name="sales",
        central_account="111111111111",
        handler_settings={"approval_topic_arn": topic},
    )
    template = app.synth().get_stack_by_name("D").template
    publishers = {
        g.name
        for g in DOMAIN_GROUPS
        if g.feature is None and "sns:Publish" in _role_actions(template, g.name)
    }
    assert publishers == {"domain.producer"}
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ApprovalNotifications"
    ]
    assert [s["Resource"] for s in statements] == [topic]
