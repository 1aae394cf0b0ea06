"""Confused deputy: every role a service assumes, in both constructs, carries aws:SourceAccount
(and aws:SourceArn where the one source is known), except the roles only a same-account
iam:PassRole can hand to a service, for which AWS documents no such key."""

from __future__ import annotations

from typing import Any

import pytest

CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"
#: Execution and service roles passed with iam:PassRole (never across accounts): Lambda's
#: function roles and Glue's crawler role (docs/deploy.md, "Verified against").
PASSED_ONLY = {"lambda.amazonaws.com", "glue.amazonaws.com"}


def _service_trusts(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            services = statement.get("Principal", {}).get("Service", [])
            for service in [services] if isinstance(services, str) else services:
                found.append((logical_id, service, statement.get("Condition", {})))
    return found


@pytest.mark.parametrize(
    ("which", "account"), [("central", CENTRAL_ACCOUNT), ("domain", DOMAIN_ACCOUNT)]
)
def test_service_roles_carry_source_account(
    which: str, account: str, request: pytest.FixtureRequest
) -> None:
    trusts = _service_trusts(request.getfixturevalue(which))
    assert trusts
    services = {service for _, service, _ in trusts}
    assert services - PASSED_ONLY, "some role besides function and crawler roles"
    for logical_id, service, condition in trusts:
        if service in PASSED_ONLY:
            continue
        source = condition.get("StringEquals", {}).get("aws:SourceAccount")
        # The subscription role is assumed by EventBridge in central's account (the rule's).
        expected = CENTRAL_ACCOUNT if logical_id.startswith("DomainSubscriptionRole") else account
        assert source == expected, (logical_id, service, condition)


def test_location_role_trusts_lake_formation_of_central_only(central: dict[str, Any]) -> None:
    ((_, service, condition),) = [
        t for t in _service_trusts(central) if t[0].startswith("GovernanceLocationRole")
    ]
    assert service == "lakeformation.amazonaws.com"
    assert condition == {"StringEquals": {"aws:SourceAccount": CENTRAL_ACCOUNT}}


def test_roles_of_one_rule_name_it(domain: dict[str, Any]) -> None:
    ((_, _, condition),) = [
        t for t in _service_trusts(domain) if t[0].startswith("DomainSubscriptionRole")
    ]
    assert "aws:SourceArn" in condition["ArnLike"]
