"""IAM parity: the demo runs with every handler call checked against the policy the constructs
synthesize for its group's role (enforcing: a call the policy does not allow fails as on AWS),
and every granted action no call needed carries its reason (meshkit.constructs._iam)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

pytest.importorskip("aws_cdk", reason="the IAM parity check reads the constructs' templates")

import iam_support
import test_flows
import test_lifecycle_ends

from meshkit.handlers._common import central_database_name
from meshkit.local import demo, iam
from meshkit.local.accounts import group_calls
from meshkit.local.mesh import LocalMesh
from meshkit.local.policy import PolicyError

pytestmark = [pytest.mark.iam_parity, pytest.mark.slow]

REGION = "us-east-1"
DEMO_PRINCIPALS = {"sales": ("analyst",), "marketing": ("analyst",), "finance": ("controller",)}
#: Handler groups the constructs do not deploy (a team's own handlers): the demo has none.
TEAM_GROUPS: set[str] = set()


@pytest.fixture(scope="session")
def demo_templates() -> dict[str, dict[str, Any]]:
    """The demo's configuration synthesized once per session (central + three domains)."""
    return iam_support.synth_mesh(
        mesh_name="demo",
        central_account=demo.CENTRAL,
        region=REGION,
        domains=demo.ACCOUNTS,
        principals=DEMO_PRINCIPALS,
        personas=demo.PERSONAS.format(db=central_database_name("demo", "sales")),
    )


def _mesh(
    templates: dict[str, dict[str, Any]],
    *,
    enforce: bool = True,
    datazone: bool = True,
    seed: int = 0,
) -> tuple[LocalMesh, iam.IamParity]:
    late: dict[str, Any] = {}
    parity = iam.IamParity(
        templates,
        region=REGION,
        arns=lambda account, template: late["arns"](account, template),
        rewrite=lambda value: late["rewrite"](value),
        bucket_owner=lambda bucket: late["owner"](bucket),
        enforce=enforce,
    )
    mesh = LocalMesh(
        name="demo",
        central_account=demo.CENTRAL,
        region=REGION,
        datazone=datazone,
        seed=seed,
        call_hooks=[parity.attach],
    )
    late.update(
        arns=iam_support.local_arns(mesh),
        rewrite=iam_support.rewrite(mesh),
        owner=iam_support.bucket_owner(mesh),
    )
    return mesh, parity


@pytest.fixture(scope="module")
def demo_run(
    demo_templates: dict[str, dict[str, Any]],
) -> tuple[demo.DemoResult, iam.IamParity]:
    mesh, parity = _mesh(demo_templates)
    with mesh:
        result = demo.run_demo(mesh, rows_per_day=20)
    return result, parity


def _misplaced_events(mesh: LocalMesh) -> None:
    """Both guards at work: a grant marketing forges on its own bus, and one sales puts on
    central's (test_misplaced_events, with the real routers)."""
    from meshkit.events.access import AccessGranted
    from meshkit.events.schema import example_detail

    granted = AccessGranted.model_validate(
        {**example_detail(AccessGranted), "recipients": [test_flows.MARKETING]}
    )
    mesh.domain("marketing").put(granted)
    mesh.put_from(test_flows.SALES, granted, bus="central")
    mesh.run_until_idle()
    groups = {d.attributes.get("group") for d in mesh.dead_letters()}
    assert {"domain.guard", "central.guard"} <= groups, groups


#: Flow-test scenarios replayed with enforcement on (the tests' own bodies, on a mesh checked
#: against the demo's templates: same accounts and principals; the sharing mode is a setting).
FLOW_SCENARIOS: dict[str, tuple[Any, str]] = {
    "deregistration": (test_flows.test_deregistration, "flows"),
    "misplaced_events": (_misplaced_events, "flows"),
    "reregistration": (test_flows.test_reregistration_changes_only_what_changed, "flows+products"),
    "crawl_failure": (
        test_flows.test_crawler_failure_is_reported_not_treated_as_success,
        "flows",
    ),
    "denial": (test_flows.test_denial_reaches_consumer, "flows+products"),
    "expiry": (
        test_flows.test_approval_after_expiry_is_rejected_and_request_expires,
        "flows+products",
    ),
    "time_limited": (test_flows.test_time_limited_access_is_revoked_when_it_ends, "flows+products"),
    "deprecated": (test_flows.test_deprecated_product_accepts_no_new_requests, "flows+products"),
    "deregistration_closes_all": (
        test_lifecycle_ends.test_deregistration_closes_everything_the_domain_opened,
        "ends",
    ),
    "register_again": (
        test_lifecycle_ends.test_a_deregistered_domain_can_register_again_and_starts_clean,
        "ends",
    ),
    "consumer_refusal": (
        test_lifecycle_ends.test_consumer_refusal_ends_the_request_and_revokes_only_its_grants,
        "ends",
    ),
    "deprecation_sweep": (
        test_lifecycle_ends.test_deprecation_keeps_access_until_its_stated_end_then_the_sweep_revokes,
        "ends",
    ),
    "deprecation_at_once": (
        test_lifecycle_ends.test_deprecation_at_once_revokes_granted_access,
        "ends",
    ),
}


def _run_scenario(templates: dict[str, dict[str, Any]], body: Any, setup: str) -> iam.IamParity:
    mesh, parity = _mesh(templates, datazone=False, seed=1 if setup.startswith("flows") else 5)
    with mesh:
        if setup.startswith("flows"):
            mesh.add_domain("sales", account=test_flows.SALES)
            mesh.add_domain("marketing", account=test_flows.MARKETING, principals=("analyst",))
            mesh.add_domain("finance", account=test_flows.FINANCE, principals=("controller",))
        else:
            mesh.add_domain("sales", account=test_lifecycle_ends.SALES)
            mesh.add_domain("marketing", account=test_lifecycle_ends.MARKETING)
        mesh.run_until_idle()
        if setup == "flows+products":
            sales = mesh.domain("sales")
            base = sales.storage_uri.rstrip("/")
            products = {
                "orders": test_flows._orders(sales, base),
                "revenue": test_flows._revenue(sales, base),
            }
            for event in products.values():
                sales.put(event)
            mesh.run_until_idle()
            body(mesh, products)
        else:
            body(mesh)
    return parity


@pytest.fixture(scope="module")
def scenario_runs(demo_templates: dict[str, dict[str, Any]]) -> dict[str, iam.IamParity]:
    return {
        name: _run_scenario(demo_templates, body, setup)
        for name, (body, setup) in FLOW_SCENARIOS.items()
    }


def test_flow_scenarios_pass_with_enforcement_on(scenario_runs: dict[str, iam.IamParity]) -> None:
    denied = sorted(
        f"{name}: {d.describe()}" for name, parity in scenario_runs.items() for d in parity.denials
    )
    assert not denied, "calls the synthesized policies do not allow:\n" + "\n".join(denied)
    for name, parity in scenario_runs.items():
        assert parity.records, name
        assert not parity.cross_account, name
        assert not parity.unchecked, name


def test_every_demo_flow_passes_with_enforcement_on(
    demo_run: tuple[demo.DemoResult, iam.IamParity],
) -> None:
    result, parity = demo_run
    denied = sorted({d.describe() for d in parity.denials})
    assert not denied, "calls the synthesized policies do not allow:\n" + "\n".join(denied)
    assert result.ok, [c for c in result.checks if not c["ok"]]
    assert {r.group for r in parity.records} >= {
        "central.onboarding",
        "central.access",
        "central.erasure",
        "central.publication",
        "central.permissions",
        "domain.producer",
        "domain.consumer",
        "domain.erasure",
        "domain.publication",
    }
    # Only a team's own handler goes unchecked, and no handler acts in another account.
    assert {group for group, _, _ in parity.unchecked} == TEAM_GROUPS
    assert not parity.cross_account


def test_every_granted_action_no_flow_used_has_a_reason(
    demo_run: tuple[demo.DemoResult, iam.IamParity],
    scenario_runs: dict[str, iam.IamParity],
) -> None:
    from meshkit.constructs import _iam

    _, parity = demo_run
    runs = [parity, *scenario_runs.values()]
    used: dict[str, set[str]] = {}
    for run in runs:
        for group, actions in run.used_actions().items():
            used.setdefault(group, set()).update(actions)
    unused = parity.unused_grants(used=used)
    missing = sorted(
        f"{group}: {action}"
        for group, actions in unused.items()
        for action in actions
        if _iam.unused_grant_reason(group, action) is None
    )
    assert not missing, "granted, never called, no reason given (remove or explain):\n" + "\n".join(
        missing
    )
    # A reason for an action some flow now calls is stale.
    stale = sorted(
        f"{group}: {action}"
        for group, reasons in _iam.UNUSED_GRANT_REASONS.items()
        if group != "*"
        for action in reasons
        if action in used.get(group, set())
    )
    assert not stale, stale


def test_a_call_outside_the_policy_fails_naming_role_action_and_resource(
    demo_templates: dict[str, dict[str, Any]],
) -> None:
    # GIVEN a running mesh checked against the synthesized policies
    mesh, parity = _mesh(demo_templates)
    with mesh:
        glue = mesh.central.client("glue")
        # WHEN central's access group creates a database (only onboarding may)
        with group_calls("central.access", mesh.central.account), pytest.raises(ClientError) as err:
            glue.create_database(DatabaseInput={"Name": "demo_not_allowed"})
        # THEN the call fails as AWS would, naming the role, the action and the resource
        message = err.value.response["Error"]["Message"]
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "GovernanceCentralAccessRole" in message
        assert "glue:CreateDatabase" in message
        assert f"arn:aws:glue:{REGION}:{demo.CENTRAL}:database/demo_not_allowed" in message
        with mesh.quiet():
            assert "demo_not_allowed" not in {
                d["Name"] for d in glue.get_databases()["DatabaseList"]
            }
        # and onboarding, which holds the action, may
        with group_calls("central.onboarding", mesh.central.account):
            glue.create_database(DatabaseInput={"Name": "demo_allowed"})
    # Glue authorises the catalog and the database: both were refused, nothing else
    assert sorted((d.group, d.action, d.resource) for d in parity.denials) == [
        ("central.access", "glue:CreateDatabase", f"arn:aws:glue:{REGION}:{demo.CENTRAL}:catalog"),
        (
            "central.access",
            "glue:CreateDatabase",
            f"arn:aws:glue:{REGION}:{demo.CENTRAL}:database/demo_not_allowed",
        ),
    ]


def test_an_unknown_condition_key_is_an_error_not_an_allow() -> None:
    template = {
        "Resources": {
            "GroupRoleABCDEF12": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Description": "meshkit central.access handler"},
            },
            "GroupPolicy12345678": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "GroupRoleABCDEF12"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "glue:GetDatabase",
                                "Resource": "*",
                                "Condition": {"StringEquals": {"glue:NoSuchKey": "x"}},
                            }
                        ],
                    },
                },
            },
        }
    }
    parity = iam.IamParity({"111111111111": template}, region=REGION, arns=lambda a, t: {})

    class Model:
        name = "GetDatabase"

        class service_model:
            service_name = "glue"
            signing_name = "glue"

    with pytest.raises(PolicyError, match="glue:NoSuchKey"):
        parity.check(("central.access", "111111111111"), "111111111111", Model, {"Name": "db"})


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "s3",
            "ListObjectsV2",
            {"Bucket": "b", "Prefix": "products/x/"},
            [("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "products/x/"})],
        ),
        (
            "s3",
            "HeadObject",
            {"Bucket": "b", "Key": "k"},
            [("s3:GetObject", "arn:aws:s3:::b/k", {})],
        ),
        (
            "s3",
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v"},
            [("s3:GetObjectVersion", "arn:aws:s3:::b/k", {})],
        ),
        (
            "glue",
            "GetTable",
            {"CatalogId": "111111111111", "DatabaseName": "d", "Name": "t"},
            [
                ("glue:GetTable", "arn:aws:glue:us-east-1:111111111111:catalog", {}),
                ("glue:GetTable", "arn:aws:glue:us-east-1:111111111111:database/d", {}),
                ("glue:GetTable", "arn:aws:glue:us-east-1:111111111111:table/d/t", {}),
            ],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "t"}},
                    {"ConditionCheck": {"TableName": "u"}},
                ]
            },
            [
                ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:222222222222:table/t", {}),
                (
                    "dynamodb:ConditionCheckItem",
                    "arn:aws:dynamodb:us-east-1:222222222222:table/u",
                    {},
                ),
            ],
        ),
        (
            "ram",
            "AcceptResourceShareInvitation",
            {
                "resourceShareInvitationArn": (
                    f"arn:aws:ram:{REGION}:111111111111:resource-share-invitation/x"
                )
            },
            [
                (
                    "ram:AcceptResourceShareInvitation",
                    "*",
                    {"ram:ShareOwnerAccountId": "111111111111"},
                )
            ],
        ),
        ("sts", "GetCallerIdentity", {}, []),
    ],
)
def test_botocore_calls_map_to_iam_actions_and_arns(
    service: str,
    operation: str,
    params: dict[str, Any],
    expected: list[tuple[str, str, dict[str, Any]]],
) -> None:
    got = iam.iam_requests(
        service, service, operation, params, account="222222222222", region=REGION
    )
    assert [(r.action, r.resource, dict(r.context)) for r in got] == expected
