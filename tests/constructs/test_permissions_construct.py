"""CentralGovernance(permissions=...): the personas file validated at synth and shipped as an SSM
parameter (tier by size, refused beyond 8 KB), the central.permissions group's rules (schema
updates, Glue's catalog event, the reconcile at its rate) and an IAM list derived from its code;
nag and lint clean."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from meshkit import topology
from meshkit.constructs import _iam
from meshkit.governance.model import SSM_STANDARD_LIMIT, dumps_compact, load

if TYPE_CHECKING:
    from pathlib import Path

    import aws_cdk as cdk

CENTRAL, DOMAIN = "111111111111", "222222222222"
GROUP = "central.permissions"

PERSONAS = """\
version: 1
personas:
  - name: analyst
    description: finance analysts
    principals: [finance-analyst, "arn:aws:iam::222222222222:role/analyst"]
    rules:
      - database: demo_sales
        permissions: [SELECT, DESCRIBE]
"""


def _large(personas: int) -> str:
    """A valid file of ``personas`` personas (about 190 bytes of compact JSON each)."""
    lines = ["version: 1", "personas:"]
    for i in range(personas):
        lines += [
            f"  - name: persona{i:03d}",
            f"    principals: ['arn:aws:iam::{DOMAIN}:role/reader{i:03d}']",
            "    rules:",
            f"      - database: db{i:03d}",
            f"        tables: ['orders_{i:03d}_*', 'refunds_{i:03d}_*']",
            "        permissions: [SELECT, DESCRIBE]",
        ]
    return "\n".join(lines) + "\n"


def _stack(app: cdk.App, name: str, account: str) -> cdk.Stack:
    import aws_cdk as cdk

    return cdk.Stack(app, name, env=cdk.Environment(account=account, region="eu-west-1"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("personas")
    out = {"small": folder / "personas.yaml", "large": folder / "large.yaml"}
    out["small"].write_text(PERSONAS)
    out["large"].write_text(_large(30))
    return out


@pytest.fixture(scope="module")
def stacks(
    files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import CentralGovernance, PermissionsSettings

    app = cdk.App(outdir=str(tmp_path_factory.mktemp("perm")))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    CentralGovernance(
        _stack(app, "Central", CENTRAL),
        "Governance",
        mesh_name="perm",
        member_accounts=[DOMAIN],
        permissions=PermissionsSettings(file=files["small"], reconcile=cdk.Duration.minutes(30)),
    )
    CentralGovernance(
        _stack(app, "Large", "333333333333"),
        "Governance",
        mesh_name="permlarge",
        member_accounts=[DOMAIN],
        permissions=PermissionsSettings(file=str(files["large"])),
    )
    CentralGovernance(
        _stack(app, "Plain", "444444444444"),
        "Governance",
        mesh_name="plain",
        member_accounts=[DOMAIN],
    )
    assembly = app.synth()
    return {n: assembly.get_stack_by_name(n).template for n in ("Central", "Large", "Plain")}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def _group_rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: props
        for k, props in _of_type(template, "AWS::Events::Rule").items()
        if k.startswith("GovernanceCentralPermissions")
    }


def _function(template: dict[str, Any]) -> dict[str, Any]:
    (fn,) = [
        props
        for props in _of_type(template, "AWS::Lambda::Function").values()
        if props.get("Environment", {}).get("Variables", {}).get("MESHKIT_GROUP") == GROUP
    ]
    return fn


def test_the_file_is_an_ssm_parameter_of_compact_json(
    stacks: dict[str, dict[str, Any]], files: dict[str, Path]
) -> None:
    (parameter,) = _of_type(stacks["Central"], "AWS::SSM::Parameter").values()
    assert parameter["Name"] == topology.permissions_parameter("perm")
    assert parameter["Type"] == "String"
    assert parameter["Tier"] == "Standard"
    assert parameter["Value"] == dumps_compact(load(files["small"]))
    # the handler reads this very name
    settings = json.loads(
        _function(stacks["Central"])["Environment"]["Variables"]["MESHKIT_SETTINGS"]
    )
    assert settings["permissions_parameter"] == "/perm/permissions/personas"


def test_a_file_over_4_kb_takes_an_advanced_parameter(
    stacks: dict[str, dict[str, Any]], files: dict[str, Path]
) -> None:
    (parameter,) = _of_type(stacks["Large"], "AWS::SSM::Parameter").values()
    assert len(parameter["Value"].encode()) > SSM_STANDARD_LIMIT
    assert parameter["Tier"] == "Advanced"


def test_the_group_s_rules(stacks: dict[str, dict[str, Any]]) -> None:
    rules = _group_rules(stacks["Central"])
    by_kind = {
        re.sub(r"[0-9A-F]{8}$", "", k).removeprefix("GovernanceCentralPermissions"): r
        for k, r in rules.items()
    }
    assert set(by_kind) == {"MeshRule", "CatalogRule", "ReconcileSchedule"}
    group = topology.group(GROUP)
    assert by_kind["MeshRule"]["EventPattern"] == topology.central_group_pattern(
        group, central_account=CENTRAL
    )
    # Glue's event on the default bus (no EventBusName), central's own catalog only
    assert "EventBusName" not in by_kind["CatalogRule"]
    assert by_kind["CatalogRule"]["EventPattern"] == topology.catalog_change_pattern(
        account=CENTRAL
    )
    assert by_kind["ReconcileSchedule"]["ScheduleExpression"] == "rate(30 minutes)"
    large = {re.sub(r"[0-9A-F]{8}$", "", k): r for k, r in _group_rules(stacks["Large"]).items()}
    schedule = large["GovernanceCentralPermissionsReconcileSchedule"]
    assert schedule["ScheduleExpression"] == topology.PERMISSIONS_RECONCILE == "rate(1 hour)"


def test_without_permissions_nothing_of_it_is_deployed(stacks: dict[str, dict[str, Any]]) -> None:
    plain = stacks["Plain"]
    assert not _of_type(plain, "AWS::SSM::Parameter")
    assert not _group_rules(plain)
    groups = {
        props.get("Environment", {}).get("Variables", {}).get("MESHKIT_GROUP")
        for props in _of_type(plain, "AWS::Lambda::Function").values()
    }
    assert GROUP not in groups
    assert "central.access" in groups


def test_the_role_holds_its_list_and_reads_only_its_parameter(
    stacks: dict[str, dict[str, Any]],
) -> None:
    from test_central_group_actions import _role_actions, code_actions

    template = stacks["Central"]
    listed = _iam.CENTRAL_GROUP_ACTIONS[GROUP]
    actions = _role_actions(template, GROUP)
    glue_lf = {a for a in actions if a.split(":")[0] in ("glue", "lakeformation")}
    assert glue_lf == set(listed.glue) | set(listed.lakeformation) | {
        "glue:PutResourcePolicy",
        "glue:GetResourcePolicy",
        "glue:DeleteResourcePolicy",
    }
    assert "ram:CreateResourceShare" in actions  # grants to principals of other accounts
    assert code_actions(topology.group(GROUP)) <= actions
    assert all("*" not in a for a in actions)
    (parameter_id,) = _of_type(template, "AWS::SSM::Parameter")
    reads = [
        s
        for props in _of_type(template, "AWS::IAM::Policy").values()
        for s in props["PolicyDocument"]["Statement"]
        if "ssm:GetParameter" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    (read,) = reads  # no other group reads it
    assert read["Action"] == "ssm:GetParameter"
    assert parameter_id in json.dumps(read["Resource"])
    assert "*" not in json.dumps(read["Resource"])


def test_cfn_lint_clean(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from test_quality import _lint  # the suite's one cfn-lint runner

    paths = []
    for name, template in stacks.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(path)
    assert _lint(paths) == []


# -- refused at synth: nothing is synthesized ------------------------------------------------


def _construct(tmp_path: Path, text: str, **settings: Any) -> None:
    import aws_cdk as cdk

    from meshkit.constructs import CentralGovernance, PermissionsSettings

    path = tmp_path / "personas.yaml"
    path.write_text(text)
    app = cdk.App(outdir=str(tmp_path / "out"))
    CentralGovernance(
        _stack(app, "Central", CENTRAL),
        "Governance",
        mesh_name="perm",
        member_accounts=[DOMAIN],
        permissions=PermissionsSettings(file=path, **settings),
    )


def test_an_invalid_file_names_line_and_column(tmp_path: Path) -> None:
    bad = PERSONAS.replace("permissions: [SELECT, DESCRIBE]", "permissions: [SELECT, READ]")
    with pytest.raises(
        ValueError, match=r"personas\.yaml:8:31: personas\[0\]\.rules\[0\]\.permissions\[1\]"
    ) as exc:
        _construct(tmp_path, bad)
    assert "PermissionsSettings.file" in str(exc.value)
    assert not (tmp_path / "out" / "Central.template.json").exists()


def test_a_file_larger_than_an_advanced_parameter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"over the 8192 bytes an SSM parameter holds"):
        _construct(tmp_path, _large(60))


@pytest.mark.parametrize("seconds", [30, 90])
def test_the_reconcile_is_whole_minutes(tmp_path: Path, seconds: int) -> None:
    import aws_cdk as cdk

    with pytest.raises(ValueError, match=r"PermissionsSettings\.reconcile"):
        _construct(tmp_path, PERSONAS, reconcile=cdk.Duration.seconds(seconds))
