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
        ({"mesh_name": "demo", "member_accounts": [f"{n:012d}" for n in range(151)]}, "10 KB"),
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
