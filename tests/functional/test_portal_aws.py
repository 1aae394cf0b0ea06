"""The portal on AWS (``AwsBackend``): a team runs it with its own credentials.

The local mesh stands in for AWS here: the portal gets a plain boto3 session of the producer's
account (moto), whose DynamoDB client reads central's registry as the team's read-only
cross-account role would, and whose events go on the team's own domain bus. Nothing of the
local mesh's Python API is used by the portal: only boto3 calls, as on AWS.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("starlette", reason="the portal extra is not installed")

from starlette.testclient import TestClient

from meshkit.events.access import AccessRequested
from meshkit.local.mesh import LocalMesh
from meshkit.local.persist import seed_mesh
from meshkit.operate import AwsTarget
from meshkit.portal import AwsBackend, create_app
from meshkit.portal.backend import role_arn

if TYPE_CHECKING:
    from collections.abc import Iterator

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class _TeamSession:
    """The team's session: its own account, plus the registry read through central's
    read-only role (here: a client of central's account)."""

    def __init__(self, own: Any, registry: Any) -> None:
        self.own, self.registry = own, registry

    def client(self, service: str) -> Any:
        return (self.registry if service == "dynamodb" else self.own).client(service)


@pytest.fixture(scope="module")
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(name="demo", central_account="111111111111") as m:
        seed_mesh(m, rows_per_day=5)
        marketing = m.domain("marketing")
        marketing.put(
            AccessRequested(
                request_id="req-portal-aws-1",
                consumer_domain="marketing",
                producer_domain="sales",
                product="orders",
                principals=[marketing.principal("analyst")],
                purpose="campaign",
            )
        )
        m.run_until_idle()
        yield m


def _backend(mesh: LocalMesh, domain: str, account_of: str) -> AwsBackend:
    team = mesh.domain(account_of)
    target = AwsTarget(
        _TeamSession(team.session, mesh.central.session),
        bus=team.bus,
        registry_table=mesh.central.config.registry_table,
        clock=mesh.clock,
    )
    return AwsBackend(target, domain=domain, mesh_name=mesh.name, role="owner")


def _signed_in(backend: AwsBackend) -> TestClient:
    client = TestClient(create_app(backend))
    (me,) = backend.identities()
    answer = client.post("/signin", data={"identity": me.key}, follow_redirects=False)
    assert answer.status_code == 303
    return client


def test_the_team_signs_in_as_its_caller_and_decides_through_its_own_bus(
    mesh: LocalMesh,
) -> None:
    backend = _backend(mesh, "sales", account_of="sales")
    (me,) = backend.identities()
    sales = mesh.domain("sales")
    assert (me.domain, me.account, me.role) == ("sales", sales.account, "owner")
    assert me.principal.startswith(f"arn:aws:iam::{sales.account}:role/")
    client = _signed_in(backend)

    found = client.get("/search", params={"q": "orders pii"})
    assert found.status_code == 200
    assert "sales.orders" in found.text
    inbox = client.get("/inbox")
    assert "req-portal-aws-1" in inbox.text
    page = client.get("/requests/req-portal-aws-1")
    csrf = CSRF.search(page.text)
    assert csrf is not None
    decided = client.post(
        "/requests/req-portal-aws-1/decide",
        data={"csrf": csrf.group(1), "decision": "approve", "reason": "campaign is fine"},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    # the decision travelled as a PutEvents on sales' bus; central decides when it arrives
    mesh.run_until_idle()
    record = mesh.request("req-portal-aws-1")
    assert record is not None
    assert record.state == "APPROVED"
    assert record.decided_by == me.principal

    product = client.get("/products/sales/orders")
    assert "meshkit trace --aws" in product.text  # lineage comes from the logs on AWS
    query_page = client.get("/query")
    csrf = CSRF.search(query_page.text)
    assert csrf is not None
    refused = client.post("/query", data={"csrf": csrf.group(1), "sql": "SELECT 1"})
    assert "runs no queries" in refused.text


def test_credentials_of_another_account_cannot_sign_in_for_a_domain(mesh: LocalMesh) -> None:
    backend = _backend(mesh, "sales", account_of="marketing")
    client = TestClient(create_app(backend))
    answer = client.get("/signin")
    assert answer.status_code == 403
    marketing, sales = mesh.domain("marketing").account, mesh.domain("sales").account
    text = html.unescape(answer.text)
    assert (
        f"these credentials are account {marketing}'s; domain 'sales' is account {sales}'s" in text
    )


def test_an_unregistered_domain_cannot_sign_in(mesh: LocalMesh) -> None:
    backend = _backend(mesh, "nosuch", account_of="sales")
    answer = TestClient(create_app(backend)).get("/signin")
    assert answer.status_code == 403
    assert "domain 'nosuch' is not registered" in html.unescape(answer.text)


def test_the_principal_behind_an_sts_caller() -> None:
    assumed = "arn:aws-cn:sts::222222222222:assumed-role/data-owner/ana"
    assert role_arn(assumed) == "arn:aws-cn:iam::222222222222:role/data-owner"
    user = "arn:aws:iam::222222222222:user/ana"
    assert role_arn(user) == user
