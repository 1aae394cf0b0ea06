"""Domain names are bound to accounts by central (``domain_accounts``), not first come, first
served: a member account cannot take a name another team's stack will register. A refused
registration changes nothing and is rejected visibly, naming the binding."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshkit.events.domains import DomainRegistrationRequested
from meshkit.local.mesh import LocalMesh

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


@pytest.fixture
def mesh() -> Any:
    with LocalMesh(name="t", central_account=CENTRAL, seed=7) as m:
        m.add_domain("sales", account=SALES)
        m.add_domain("marketing", account=MARKETING)
        m.run_until_idle()
        yield m


def _registry(mesh: LocalMesh) -> list[str]:
    with mesh.quiet():
        ddb = mesh.central.client("dynamodb")
        items = ddb.scan(TableName=mesh.central.config.registry_table)["Items"]
        databases = mesh.central.client("glue").get_databases()["DatabaseList"]
    return sorted(json.dumps(i, sort_keys=True) for i in items) + sorted(
        d["Name"] for d in databases
    )


def _register_as_marketing(mesh: LocalMesh, name: str, prefix: str) -> list[dict[str, Any]]:
    """marketing's account asks for domain ``name`` over storage of its own bucket; the
    EventRejected reports it caused."""
    marketing = mesh.domain("marketing")
    before = len(mesh.published("EventRejected"))
    marketing.put(
        DomainRegistrationRequested(
            domain=name, account_id=MARKETING, storage_uri=f"s3://{marketing.bucket}/{prefix}/"
        )
    )
    mesh.run_until_idle()
    return mesh.published("EventRejected")[before:]


def test_a_name_bound_to_another_account_is_refused(mesh: LocalMesh) -> None:
    before = _registry(mesh)
    reports = _register_as_marketing(mesh, "sales", "squat")
    assert _registry(mesh) == before
    assert len(reports) == 1
    assert reports[0]["kind"] == "authorisation"
    assert f"'sales' is bound to account {SALES}" in reports[0]["reason"]
    assert "domain_accounts" in reports[0]["reason"]
    sales = {d.domain: d for d in mesh.registered_domains()}["sales"]
    assert sales.account_id == SALES


def test_a_name_not_in_the_map_is_refused(mesh: LocalMesh) -> None:
    # GIVEN finance's stack is not deployed yet; marketing's account tries to take its name
    before = _registry(mesh)
    reports = _register_as_marketing(mesh, "finance", "finance")
    assert _registry(mesh) == before
    assert len(reports) == 1
    assert "'finance' is not bound to an account" in reports[0]["reason"]
    assert len(mesh.dead_letters()) == 1


def test_a_bound_name_registers_from_its_account(mesh: LocalMesh) -> None:
    mesh.bind_domain("campaigns", MARKETING)
    assert _register_as_marketing(mesh, "campaigns", "campaigns") == []
    record = {d.domain: d for d in mesh.registered_domains()}["campaigns"]
    assert record.account_id == MARKETING


def test_add_domain_refuses_a_name_bound_elsewhere(mesh: LocalMesh) -> None:
    mesh.bind_domain("finance", "444444444444")
    with pytest.raises(ValueError, match="bound to account 444444444444"):
        mesh.add_domain("finance", account="555555555555")
