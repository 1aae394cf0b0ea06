"""Membership by organisation unit: central asks Organizations, caches the answer, and refuses an
account outside the allowed OU paths, including one moved out after it joined."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from meshkit.events.access import AccessRequested
from meshkit.handlers.membership import org_path_matches
from meshkit.local.mesh import LocalMesh
from meshkit.local.organization import LocalOrganization

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CENTRAL, SALES, MARKETING, SANDBOX, STRANGER = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
)
TTL = 60


def _rejections(mesh: LocalMesh, detail_type: str) -> list[Any]:
    return [e for e in mesh.timeline if e.detail_type == detail_type and e.status == "rejected"]


def _domain_items(mesh: LocalMesh) -> set[str]:
    ddb = mesh.central.client("dynamodb")
    page = ddb.scan(TableName=mesh.central.config.registry_table)
    return {i["pk"]["S"] for i in page["Items"] if i["pk"]["S"].startswith("DOMAIN#")}


@pytest.fixture(scope="module")
def silo() -> Iterator[tuple[LocalMesh, LocalOrganization]]:
    with LocalMesh(name="silo", central_account=CENTRAL) as mesh:
        org = LocalOrganization(mesh)
        org.place(CENTRAL, "Platform")
        org.place(SALES, "Projects/Sales")
        org.place(MARKETING, "Projects/Marketing")
        org.place(SANDBOX, "Sandbox")
        mesh.use_organization(org, paths=[org.pattern("Projects")], cache_seconds=TTL)
        # Every test starts from the two member domains registered (tests may run in any order).
        mesh.add_domain("sales", account=SALES)
        mesh.add_domain("marketing", account=MARKETING)
        mesh.run_until_idle()
        yield mesh, org


def test_org_path_patterns_follow_iam_string_like() -> None:
    path = "o-abc/r-ab12/ou-ab12-1111/ou-ab12-2222/"
    assert org_path_matches(path, ["o-abc/r-ab12/ou-ab12-1111/*"])
    assert org_path_matches(path, ["o-abc/*"])
    assert org_path_matches(path, ["o-abc/r-ab12/ou-ab12-1111/ou-ab12-222?/"])
    assert not org_path_matches(path, ["o-abc/r-ab12/ou-ab12-2222/*"])
    # A pattern is the whole value, not a prefix, and regex characters are literal.
    assert not org_path_matches(path, ["o-abc/r-ab12/"])
    assert not org_path_matches(path, ["o-abc/r-ab12/ou-ab12-1111/.*"])


def test_accounts_in_allowed_ous_join(silo: tuple[LocalMesh, LocalOrganization]) -> None:
    mesh, org = silo
    assert {"DOMAIN#sales", "DOMAIN#marketing"} <= _domain_items(mesh)
    assert org.ou_path("Projects/Sales").startswith(org.id + "/" + org.root_id + "/")


def test_account_outside_allowed_ous_is_refused(
    silo: tuple[LocalMesh, LocalOrganization],
) -> None:
    mesh, org = silo
    before = _domain_items(mesh)
    mesh.add_domain("sandbox", account=SANDBOX)
    mesh.run_until_idle()
    refused = _rejections(mesh, "DomainRegistrationRequested")
    assert any(org.ou_path("Sandbox") in (e.error or "") for e in refused)
    assert _domain_items(mesh) == before  # nothing written


def test_account_outside_the_organisation_is_refused(
    silo: tuple[LocalMesh, LocalOrganization],
) -> None:
    mesh, org = silo
    before = _domain_items(mesh)
    mesh.add_domain("stranger", account=STRANGER)
    mesh.run_until_idle()
    reasons = [e.error or "" for e in _rejections(mesh, "DomainRegistrationRequested")]
    assert any(f"not in organization {org.id}" in r for r in reasons)
    assert _domain_items(mesh) == before


def test_account_moved_out_of_the_ou_is_refused_after_the_ttl(
    silo: tuple[LocalMesh, LocalOrganization],
) -> None:
    mesh, org = silo
    marketing = mesh.domain("marketing")

    def ask(n: int) -> None:
        marketing.put(
            AccessRequested(
                consumer_domain="marketing",
                producer_domain="sales",
                product=f"missing{n}",
                request_id=str(uuid.uuid4()),
                purpose="membership check",
                principals=[marketing.principal("analyst")],
            )
        )
        mesh.run_until_idle()

    org.move(MARKETING, "Sandbox")
    refused_before = len(_rejections(mesh, "AccessRequested"))
    ask(1)  # within the TTL the cached answer stands (stated in docs/silos.md)
    reasons = [e.error or "" for e in _rejections(mesh, "AccessRequested")[refused_before:]]
    assert not any("organization_paths" in r for r in reasons)

    mesh.advance(timedelta(seconds=TTL + 1))
    ask(2)
    reasons = [e.error or "" for e in _rejections(mesh, "AccessRequested")[refused_before:]]
    assert any(org.ou_path("Sandbox") in r and "organization_paths" in r for r in reasons)

    # Moved back, it is a member again once the refusal's TTL is over.
    org.move(MARKETING, "Projects/Marketing")
    mesh.advance(timedelta(seconds=TTL + 1))
    count = len(_rejections(mesh, "AccessRequested"))
    ask(3)
    reasons = [e.error or "" for e in _rejections(mesh, "AccessRequested")[count:]]
    assert not any("organization_paths" in r for r in reasons)
