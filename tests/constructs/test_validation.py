"""Bad props fail at construction with a message naming the value and the fix (no synth)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from meshkit.constructs import CentralGovernance, DataDomain


def _stack() -> cdk.Stack:
    return cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"mesh_name": "Bad Name", "member_accounts": ["222222222222"]}, "mesh_name"),
        ({"mesh_name": "demo"}, "exactly one of organization_id"),
        (
            {"mesh_name": "demo", "organization_id": "o-abc123def4", "member_accounts": ["2" * 12]},
            "exactly one of organization_id",
        ),
        ({"mesh_name": "demo", "organization_id": "org-1"}, "not an 'o-...' id"),
        ({"mesh_name": "demo", "member_accounts": ["12345"]}, "12-digit"),
        ({"mesh_name": "a-b", "member_accounts": ["222222222222"]}, "no '-'"),
        ({"mesh_name": "demo", "member_accounts": [f"{n:012d}" for n in range(141)]}, "10240"),
        (
            {"mesh_name": "demo", "member_accounts": ["2" * 12], "organization_paths": ["o-x/*"]},
            "organization_paths",
        ),
        ({"mesh_name": "demo", "member_accounts": ["2" * 12], "max_receive_count": 0}, "1..1000"),
    ],
)
def test_central_rejects(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CentralGovernance(_stack(), "C", **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"domain_name": "Sales"}, "domain_name"),
        ({"central_account": "1"}, "central_account"),
        ({"sharing_mode": "both"}, "sharing_mode"),
        ({"data_prefix": "/abs/"}, "data_prefix"),
        ({"data_prefix": "no-slash"}, "data_prefix"),
        ({"central_region": "us-east-1"}, "cross-region"),
    ],
)
def test_domain_rejects(props: dict[str, Any], message: str) -> None:
    base = {"mesh_name": "demo", "domain_name": "sales", "central_account": "1" * 12}
    with pytest.raises(ValueError, match=message):
        DataDomain(_stack(), "D", **{**base, **props})


def test_add_handler_needs_a_model() -> None:
    from aws_cdk import aws_lambda as lambda_

    stack = _stack()
    domain = DataDomain(stack, "D", mesh_name="demo", domain_name="sales", central_account="1" * 12)
    fn = lambda_.Function(
        stack,
        "F",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="h.h",
        code=lambda_.Code.from_inline("def h(e, c): pass"),
    )
    with pytest.raises(ValueError, match="at least one event class"):
        domain.add_handler([], fn)


def test_allowlist_cap_is_the_real_policy_size() -> None:
    from meshkit.constructs.central import BUS_POLICY_LIMIT

    accounts = [f"{200000000000 + n:012d}" for n in range(141)]
    # GIVEN the largest allowlist that fits in eu-west-1 (demo mesh)
    fits = CentralGovernance(_stack(), "C", mesh_name="demo", member_accounts=accounts[:140])
    size = fits.bus_policy_size()
    # THEN the policy is within EventBridge's limit, and one more account would overflow it
    assert size <= BUS_POLICY_LIMIT < size + 2 * len('"arn:aws:iam::200000000000:root",')
    with pytest.raises(ValueError, match="141 member_accounts make the central bus policy"):
        CentralGovernance(_stack(), "C", mesh_name="demo", member_accounts=accounts)


def test_schema_registry_only_where_eventbridge_schemas_is() -> None:
    def central(region: str, **props: Any) -> CentralGovernance:
        stack = cdk.Stack(
            cdk.App(), "S", env=cdk.Environment(account="111111111111", region=region)
        )
        return CentralGovernance(
            stack, "C", mesh_name="demo", member_accounts=["222222222222"], **props
        )

    assert central("il-central-1").schema_registry is None
    assert central("eu-west-1", schema_registry=False).schema_registry is None
    with pytest.raises(ValueError, match="not available in mx-central-1"):
        central("mx-central-1", schema_registry=True)


def test_regions_without_schemas_match_the_endpoint_data() -> None:
    """The list is botocore's: EventBridge Regions minus EventBridge Schemas Regions."""
    import botocore.session

    from meshkit.constructs.central import PARTITIONS_WITHOUT_SCHEMAS, REGIONS_WITHOUT_SCHEMAS

    session = botocore.session.get_session()
    missing: set[str] = set()
    empty: set[str] = set()
    for partition in session.get_available_partitions():
        events = set(session.get_available_regions("events", partition_name=partition))
        schemas = set(session.get_available_regions("schemas", partition_name=partition))
        if events and not schemas:
            empty.add(partition)
        elif partition == "aws":
            missing |= events - schemas
    assert missing <= REGIONS_WITHOUT_SCHEMAS
    assert empty <= PARTITIONS_WITHOUT_SCHEMAS


def test_mesh_names_cannot_collide_through_separators() -> None:
    from meshkit.handlers._common import central_database_name
    from meshkit.topology import crawler_name

    # "a-b" + "c" and "a" + "b-c" (or "b_c") would give the same database and crawler names.
    with pytest.raises(ValueError, match="no '-'"):
        CentralGovernance(_stack(), "C", mesh_name="a-b", member_accounts=["2" * 12])
    with pytest.raises(ValueError, match="no '-'"):
        DataDomain(_stack(), "D", mesh_name="a-b", domain_name="c", central_account="1" * 12)
    pairs = [("ab", "c"), ("a", "bc"), ("a", "b_c"), ("ab", "c_d"), ("a", "b_c_d"), ("a1", "b")]
    databases = {central_database_name(m, d) for m, d in pairs}
    crawlers = {crawler_name(m, d, "") for m, d in pairs}
    assert len(databases) == len(crawlers) == len(pairs)
