"""The local mesh deploys central.permissions from the topology, as CentralGovernance does: the
file as compact JSON in its SSM parameter, the group's rules, the reconcile at its rate."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from test_flows import CENTRAL, SALES

from meshkit import topology
from meshkit.governance.model import PersonasFileError, dumps_compact, load, loads
from meshkit.local.mesh import LocalMesh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FILE = """\
version: 1
personas:
  - name: analyst
    principals: [analyst]
    on_drift: repair
    rules:
      - database: t_sales
        permissions: [SELECT, DESCRIBE]
"""


def _rules(mesh: LocalMesh) -> dict[str, dict[str, Any]]:
    events = mesh.central.client("events")
    out = {}
    for bus in ("default", "t-central"):
        for rule in events.list_rules(NamePrefix="t-central-permissions", EventBusName=bus)[
            "Rules"
        ]:
            out[rule["Name"]] = rule
    return out


def _runs(mesh: LocalMesh) -> list[str]:
    return [e.detail_type for e in mesh.timeline if e.group == "central.permissions"]


def test_a_mesh_built_with_a_personas_file_runs_the_topology_group(tmp_path: Path) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(FILE)
    with LocalMesh(
        name="t",
        central_account=CENTRAL,
        seed=1,
        permissions=path,
        permissions_reconcile=timedelta(minutes=30),
    ) as mesh:
        # the file, as the construct ships it
        value = mesh.central.client("ssm").get_parameter(Name="/t/permissions/personas")
        assert value["Parameter"]["Value"] == dumps_compact(load(path))
        assert "permissions" in mesh.features
        # the group's rules: from domains on the central bus, Glue's event and the schedule on
        # the default bus
        rules = _rules(mesh)
        group = topology.group("central.permissions")
        assert json.loads(rules["t-central-permissions"]["EventPattern"]) == (
            topology.central_group_pattern(group, central_account=CENTRAL)
        )
        assert json.loads(rules["t-central-permissions-catalog"]["EventPattern"]) == (
            topology.catalog_change_pattern(account=CENTRAL)
        )
        assert rules["t-central-permissions-schedule"]["ScheduleExpression"] == "rate(30 minutes)"
        # the group reads its parameter through the setting the construct sets
        config = mesh.central.configs["central.permissions"]
        assert config.settings["permissions_parameter"] == "/t/permissions/personas"

        mesh.add_domain("sales", account=SALES)
        mesh.run_until_idle()
        # WHEN the mesh clock passes the reconcile's rate, and not before
        mesh.advance(timedelta(minutes=29))
        mesh.run_until_idle()
        assert "Scheduled Event" not in _runs(mesh)
        mesh.advance(timedelta(minutes=1))
        mesh.run_until_idle()
        assert _runs(mesh).count("Scheduled Event") == 1
        assert not mesh.dead_letters()


def test_deploying_again_replaces_the_file_and_the_rate() -> None:
    with LocalMesh(name="t", central_account=CENTRAL, seed=1) as mesh:
        assert "permissions" not in mesh.features
        assert "central.permissions" not in mesh.central.configs
        mesh.deploy_permissions(loads(FILE))
        assert _rules(mesh)["t-central-permissions-schedule"]["ScheduleExpression"] == (
            topology.PERMISSIONS_RECONCILE
        )
        changed = loads(FILE.replace("[SELECT, DESCRIBE]", "[DESCRIBE]"))
        mesh.deploy_permissions(changed, reconcile=timedelta(hours=6))
        value = mesh.central.client("ssm").get_parameter(Name="/t/permissions/personas")
        assert value["Parameter"]["Value"] == dumps_compact(changed)
        assert _rules(mesh)["t-central-permissions-schedule"]["ScheduleExpression"] == (
            "rate(6 hours)"
        )
        mesh.advance(timedelta(hours=5))
        mesh.run_until_idle()
        assert "Scheduled Event" not in _runs(mesh)
        mesh.advance(timedelta(hours=1))
        mesh.run_until_idle()
        assert _runs(mesh).count("Scheduled Event") == 1


def test_a_bad_file_is_refused_before_the_mesh_starts(tmp_path: Path) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(FILE.replace("on_drift: repair", "on_drift: fix"))
    with pytest.raises(PersonasFileError, match=r"personas\.yaml:5:5: personas\[0\]\.on_drift"):
        LocalMesh(name="t", permissions=path)


def test_a_file_larger_than_an_ssm_parameter_is_refused() -> None:
    personas = "\n".join(
        f"  - name: p{i:03d}\n    principals: [reader{i:03d}]\n    rules:\n"
        f"      - database: db{i:03d}\n        tables: [orders_{i:03d}_*]\n"
        "        permissions: [SELECT]"
        for i in range(120)
    )
    big = loads("version: 1\npersonas:\n" + personas + "\n")
    with pytest.raises(ValueError, match="8192 bytes an SSM parameter holds"):
        LocalMesh(name="t", permissions=big)  # before anything starts
    with LocalMesh(name="t", central_account=CENTRAL, seed=1, lake=False) as mesh:
        with pytest.raises(ValueError, match="8192 bytes an SSM parameter holds"):
            mesh.deploy_permissions(big, reconcile=timedelta(minutes=5))
        assert "central.permissions" not in mesh.central.configs
        assert "permissions" not in mesh.features


@pytest.mark.parametrize("every", [timedelta(seconds=30), timedelta(seconds=90)])
def test_the_reconcile_is_whole_minutes(every: timedelta) -> None:
    with pytest.raises(ValueError, match="permissions_reconcile"):
        LocalMesh(name="t", permissions=loads(FILE), permissions_reconcile=every)
