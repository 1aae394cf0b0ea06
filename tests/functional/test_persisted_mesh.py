"""`meshkit local up`: a local mesh journalled on disk, rebuilt by each command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from meshkit import operate
from meshkit.cli import main
from meshkit.events.access import AccessRequested
from meshkit.local.persist import PersistedMesh

if TYPE_CHECKING:
    from pathlib import Path


def test_a_persisted_mesh_keeps_state_between_commands(tmp_path: Path) -> None:
    persisted = PersistedMesh(tmp_path)
    persisted.up(now=datetime.now(UTC) - timedelta(minutes=5))
    with persisted.open() as first:
        analyst = first.mesh.domain("marketing").principal("analyst")
        first.put(
            "marketing",
            AccessRequested(
                request_id="req-kept-0001",
                consumer_domain="marketing",
                producer_domain="sales",
                product="orders",
                principals=[analyst],
                purpose="kept",
            ),
        )
    with persisted.open() as second:  # a new process would do exactly this
        record = second.mesh.request("req-kept-0001")
        assert record is not None
        assert record.state == "PENDING"
        assert second.mesh.clock() >= datetime.now(UTC) - timedelta(seconds=5)
    assert len(persisted.journal().entries) == 1
    assert main(["local", "down", "--state-dir", str(tmp_path)]) == 0
    assert main(["registry", "domains", "--state-dir", str(tmp_path)]) == operate.EXIT_NO_MESH
