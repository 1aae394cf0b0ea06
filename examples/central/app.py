"""Example CDK app for the governance account: one CentralGovernance, checked by cdk-nag."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from meshkit.constructs import CentralGovernance

# Placeholders so that `cdk synth` works out of the box; pass real values with -c key=value.
DEFAULTS = {
    "mesh_name": "demo",
    "central_account": "111111111111",
    "region": "eu-west-1",
    "organization_id": "",
    "member_accounts": "222222222222,333333333333",
    "domain_accounts": "sales=222222222222,marketing=333333333333",
}


def context(app: cdk.App, key: str) -> str:
    value = app.node.try_get_context(key)
    return str(value) if value not in (None, "") else DEFAULTS[key]


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = cdk.Stack(
        app,
        "MeshCentral",
        env=cdk.Environment(account=context(app, "central_account"), region=context(app, "region")),
        description="meshkit central governance",
    )
    org = context(app, "organization_id")
    members = [a for a in context(app, "member_accounts").split(",") if a]
    # Which account may register which domain name (names not listed are refused).
    bindings = dict(
        pair.split("=", 1) for pair in context(app, "domain_accounts").split(",") if "=" in pair
    )
    CentralGovernance(
        stack,
        "Governance",
        mesh_name=context(app, "mesh_name"),
        organization_id=org or None,
        member_accounts=() if org else members,
        domain_accounts=bindings,
    )
    app.synth()


if __name__ == "__main__":
    main()
