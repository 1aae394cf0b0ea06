"""``meshkit permissions plan|apply FILE``: against the persisted local mesh (``--local``), and
against AWS with the caller's credentials (botocore's Stubber: the exact calls, in order)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from stub_support import StubbedSession

from meshkit.cli import main

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ACCOUNT = "123456789012"
ANALYST = f"arn:aws:iam::{ACCOUNT}:role/analyst"
FILE = """\
version: 1
personas:
  - name: analyst
    principals: [analyst]
    on_drift: repair
    rules:
      - database: sales
        tables: [orders]
        permissions: [SELECT]
"""
#: The demo mesh's sales database (the persisted mesh is the demo's).
LOCAL_FILE = """\
version: 1
personas:
  - name: controller
    principals: [controller]
    rules:
      - database: demo_sales
        tables: [revenue_daily]
        permissions: [SELECT, DESCRIBE]
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- the local mesh --------------------------------------------------------------------------


def test_local_plan_apply_then_nothing_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    path = tmp_path / "personas.yaml"
    path.write_text(LOCAL_FILE)
    assert _run(capsys, "local", "up", "--state-dir", state)[0] == 0
    # WHEN the file is planned on the local mesh
    status, out, _ = _run(
        capsys, "permissions", "plan", str(path), "--local", "--state-dir", state, "--json"
    )
    assert status == 0
    plan = json.loads(out)
    controller = "arn:aws:iam::111111111111:role/controller"
    assert [(c["action"], c["principal"], c["resource"]) for c in plan["changes"]] == [
        ("grant", controller, "demo_sales.revenue_daily")
    ]
    # ... applied (journalled) ...
    status, out, _ = _run(
        capsys, "permissions", "apply", str(path), "--local", "--state-dir", state, "--json"
    )
    assert status == 0
    assert json.loads(out)["applied"]["granted"] == 1
    journal = json.loads((tmp_path / "state" / "mesh.json").read_text())
    assert [e.get("kind") for e in journal["entries"]] == ["permissions"]
    # THEN the next command's rebuilt mesh holds the grants: nothing left to plan
    status, out, _ = _run(
        capsys, "permissions", "plan", str(path), "--local", "--state-dir", state, "--json"
    )
    assert status == 0
    assert json.loads(out)["changes"] == []


def test_local_up_with_a_personas_file_deploys_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "state")
    path = tmp_path / "personas.yaml"
    path.write_text(LOCAL_FILE)
    # GIVEN a local mesh built with central.permissions deployed with the file
    status, out, _ = _run(
        capsys, "local", "up", "--state-dir", state, "--personas", str(path), "--json"
    )
    assert status == 0
    assert json.loads(out)["permissions"] is True
    # THEN the group granted the seed's product tables as their schemas arrived (inheritance):
    # the CLI's plan of the same file finds nothing to do
    status, out, _ = _run(
        capsys, "permissions", "plan", str(path), "--local", "--state-dir", state, "--json"
    )
    assert status == 0
    assert json.loads(out)["changes"] == []
    # a kept mesh is not rebuilt with another file behind the user's back
    path.write_text(LOCAL_FILE.replace("[SELECT, DESCRIBE]", "[DESCRIBE]"))
    status, _, err = _run(capsys, "local", "up", "--state-dir", state, "--personas", str(path))
    assert status == 2
    assert "--fresh --personas" in err


def test_local_up_refuses_an_invalid_personas_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(LOCAL_FILE.replace("DESCRIBE]", "DESCRIBE, READ]"))
    status, _, err = _run(
        capsys, "local", "up", "--state-dir", str(tmp_path / "s"), "--personas", str(path)
    )
    assert status == 2
    assert "personas.yaml:8:" in err
    assert not (tmp_path / "s" / "mesh.json").exists()


def test_local_without_a_mesh_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(LOCAL_FILE)
    status, _, err = _run(
        capsys, "permissions", "plan", str(path), "--local", "--state-dir", str(tmp_path / "none")
    )
    assert status == 5
    assert "meshkit local up" in err


def test_local_refuses_aws_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(LOCAL_FILE)
    status, _, err = _run(capsys, "permissions", "plan", str(path), "--local", "--profile", "p")
    assert status == 2
    assert "--profile" in err


# -- AWS, stubbed ----------------------------------------------------------------------------


ORDERS = {
    "Name": "orders",
    "DatabaseName": "sales",
    "StorageDescriptor": {
        "Columns": [{"Name": "order_id", "Type": "bigint"}, {"Name": "total", "Type": "double"}]
    },
}
#: A grant made by hand on the table (the persona repairs drift: it is revoked).
BY_HAND = {
    "Principal": {"DataLakePrincipalIdentifier": ANALYST},
    "Resource": {"Table": {"CatalogId": ACCOUNT, "DatabaseName": "sales", "Name": "orders"}},
    "Permissions": ["INSERT"],
    "PermissionsWithGrantOption": [],
}


def _reads(session: StubbedSession) -> None:
    """What a plan reads, in order: the caller, the catalog, the explicit grants by resource
    type (never by principal), the data-cells filters."""
    session.stub("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me", "UserId": "AID"},
        {},
    )
    glue = session.stub("glue")
    glue.add_response("get_databases", {"DatabaseList": [{"Name": "sales"}]}, {})
    glue.add_response("get_tables", {"TableList": [ORDERS]}, {"DatabaseName": "sales"})
    lf = session.stub("lakeformation")
    lf.add_response(
        "get_data_lake_settings",
        {"DataLakeSettings": {"DataLakeAdmins": []}},
        {"CatalogId": ACCOUNT},
    )
    for resource_type in ("DATABASE", "TABLE", "LF_TAG_POLICY_DATABASE", "LF_TAG_POLICY_TABLE"):
        rows = [BY_HAND] if resource_type == "TABLE" else []
        lf.add_response(
            "list_permissions",
            {"PrincipalResourcePermissions": rows},
            {"CatalogId": ACCOUNT, "ResourceType": resource_type, "MaxResults": 1000},
        )
    lf.add_response(
        "get_data_lake_settings",
        {"DataLakeSettings": {"DataLakeAdmins": []}},
        {"CatalogId": ACCOUNT},
    )
    lf.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"MaxResults": 1000})


def _entry(permissions: list[str]) -> dict[str, Any]:
    return {
        "Id": "e0",
        "Principal": {"DataLakePrincipalIdentifier": ANALYST},
        "Resource": {"Table": {"CatalogId": ACCOUNT, "DatabaseName": "sales", "Name": "orders"}},
        "Permissions": permissions,
        "PermissionsWithGrantOption": [],
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[StubbedSession, Path]:
    session = StubbedSession()
    monkeypatch.setattr(boto3.session, "Session", lambda **_kwargs: session)
    path = tmp_path / "personas.yaml"
    path.write_text(FILE)
    return session, path


def test_aws_plan_reads_by_resource_and_shows_the_delta(
    aws: tuple[StubbedSession, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    session, path = aws
    _reads(session)
    status, out, _ = _run(capsys, "permissions", "plan", str(path), "--json")
    assert status == 0
    plan = json.loads(out)
    assert [(c["action"], c["resource"], c["permissions"]) for c in plan["changes"]] == [
        ("grant", "sales.orders", ["SELECT"]),
        ("revoke", "sales.orders", ["INSERT"]),
    ]
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()  # every read made, none other


def test_aws_apply_sends_only_the_delta_in_batches(
    aws: tuple[StubbedSession, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    session, path = aws
    _reads(session)
    lf = session.stub("lakeformation")
    lf.add_response(
        "batch_grant_permissions",
        {"Failures": []},
        {"CatalogId": ACCOUNT, "Entries": [_entry(["SELECT"])]},
    )
    lf.add_response(
        "batch_revoke_permissions",
        {"Failures": []},
        {"CatalogId": ACCOUNT, "Entries": [_entry(["INSERT"])]},
    )
    status, out, _ = _run(capsys, "permissions", "apply", str(path))
    assert status == 0
    assert "applied in 2 call(s): 1 granted, 1 revoked" in out
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()


def test_aws_apply_reports_failed_entries_and_exits_1(
    aws: tuple[StubbedSession, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    session, path = aws
    _reads(session)
    lf = session.stub("lakeformation")
    denied = {
        "RequestEntry": _entry(["SELECT"]),
        "Error": {"ErrorCode": "AccessDeniedException", "ErrorMessage": "not a data lake admin"},
    }
    lf.add_response(
        "batch_grant_permissions",
        {"Failures": [denied]},
        {"CatalogId": ACCOUNT, "Entries": [_entry(["SELECT"])]},
    )
    lf.add_response(
        "batch_revoke_permissions",
        {"Failures": []},
        {"CatalogId": ACCOUNT, "Entries": [_entry(["INSERT"])]},
    )
    status, out, _ = _run(capsys, "permissions", "apply", str(path), "--json")
    assert status == 1
    applied = json.loads(out)["applied"]
    assert applied["granted"] == 0
    assert applied["revoked"] == 1
    assert [(f["error_code"], f["resource"]) for f in applied["failures"]] == [
        ("AccessDeniedException", "sales.orders")
    ]
