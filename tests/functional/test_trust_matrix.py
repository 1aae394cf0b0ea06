"""The trust matrix: every meshkit event type of ``meshkit.trust.TABLE``, sent from every kind of
account (the owner domain, another domain, the consumer, central, a non-member), in one local
mesh running the real handlers and guards.

A sender the table refuses changes nothing (central's registry, the domains' state tables, every
account's Glue catalog and Lake Formation grants) and its event is rejected visibly: a dead
letter and an ``EventRejected`` naming the event from each group it reached (for reports,
``EventRejected`` and ``FlowFailed``, the dead letter only: the router never reports on a
report), each for its sender (kind ``authorisation``). A sender the table allows is never
refused for authorisation, and its event reaches the handlers that take it (they may still
refuse it for the state of the request, product or erasure it names).
The cells are derived from the table, so a new event type is covered as soon as it has a rule.
The mesh is built once; each event type's refused senders are sent together and compared with
one snapshot, the allowed ones all at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from meshkit import topology, trust
from meshkit.events.access import AccessRequested
from meshkit.events.catalogue import mesh_events
from meshkit.events.erasure import ErasureRequested
from meshkit.events.products import ProductRegistrationRequested, TableSpec
from meshkit.events.schema import example_detail
from meshkit.local.mesh import LocalMesh
from meshkit.local.sample_data import daily_revenue_csv, orders_parquet
from meshkit.trust import Party

if TYPE_CHECKING:
    from collections.abc import Iterator

    from meshkit.events.base import EventDetail

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# The catalogue's examples use these accounts: sales 222..., marketing 333..., central 111...
CENTRAL, SALES, MARKETING, FINANCE, HR, OUTSIDER = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
    "999999999999",
)
DOMAIN_OF = {SALES: "sales", MARKETING: "marketing", FINANCE: "finance", HR: "hr"}
KINDS = ("owner", "other domain", "consumer", "central", "non-member")
#: The example request (``req-6e0c4c8e9f0a``), pending in the scenario: marketing asks sales.
REQUEST_ID = example_detail(AccessRequested)["request_id"]
#: The example erasure, planned by sales in the scenario (not approved).
ERASURE_ID = example_detail(ErasureRequested)["erasure_id"]

_MODELS = {m.type_key(): m for m in mesh_events()}
_RULES = [r for r in trust.TABLE.values() if r.source.startswith(trust.MESH_SOURCE_PREFIX)]


def _owner(r: trust.Rule) -> str:
    # Deregistration is exercised on a domain of its own, so the others keep their owner.
    return HR if r.detail_type == "DomainDeregistrationRequested" else SALES


def _account(r: trust.Rule, kind: str) -> str:
    return {
        "owner": _owner(r),
        "other domain": FINANCE,
        "consumer": MARKETING,
        "central": CENTRAL,
        "non-member": OUTSIDER,
    }[kind]


def allowed(r: trust.Rule, kind: str) -> bool:
    """Whether the table lets this kind of account send ``r``'s event (on its consuming bus)."""
    parties = set(r.senders())
    by_kind = {
        "central": {Party.CENTRAL, Party.OPERATOR, Party.ANY_MEMBER},
        "owner": {Party.OWNER, Party.SELF, Party.ANY_MEMBER},
        "consumer": {Party.CONSUMER, Party.SELF, Party.ANY_MEMBER},
        "other domain": {Party.SELF, Party.ANY_MEMBER},
        "non-member": set(),
    }
    return bool(parties & by_kind[kind])


def _unenforced(r: trust.Rule, kind: str) -> bool:
    """A non-member's report (any member may send one): on AWS the central bus policy admits
    members only; the local mesh has no bus policies, so only "changes nothing" is checked."""
    return kind == "non-member" and Party.ANY_MEMBER in r.senders()


def _consumed(r: trust.Rule) -> bool:
    """Some handler group of the mesh takes this event type (the others are reports, kept by
    the central archive)."""
    model = _MODELS[r.key]
    return any(model in (*g.events, *g.own_events, *g.operator_events) for g in topology.GROUPS)


def _target(model: type[EventDetail]) -> str:
    """The domain an event central addresses is meant for (its consuming group's account)."""
    return MARKETING if model in topology.group("domain.consumer").events else SALES


def _event(r: trust.Rule) -> EventDetail:
    model = _MODELS[r.key]
    detail = example_detail(model)
    if r.detail_type == "DomainDeregistrationRequested":
        detail.update(domain="hr", account_id=HR)
    if "recipients" in detail:
        detail["recipients"] = [_target(model)]
    return model.model_validate(detail)


@dataclass
class Sent:
    rule: trust.Rule
    kind: str
    account: str
    event_id: str
    #: What the state looked like around this event type's refused senders (snapshot diff).
    changed: list[str] = field(default_factory=list)


@dataclass
class Matrix:
    mesh: LocalMesh
    cells: dict[tuple[str, str], Sent]

    def rejections(self, event_id: str) -> list[dict[str, Any]]:
        return [r for r in self.mesh.published("EventRejected") if r["event_id"] == event_id]

    def dead_letters(self, event_id: str) -> list[Any]:
        return [d for d in self._letters if d.body.get("id") == event_id]

    _letters: list[Any] = field(default_factory=list)


def _send(mesh: LocalMesh, r: trust.Rule, kind: str) -> Sent:
    event, account = _event(r), _account(r, kind)
    if kind == "central":
        event_id = mesh.central.put(event)
    elif kind == "non-member":
        on_central = any(route.bus == "central" for route in r.routes)
        bus = "central" if on_central else DOMAIN_OF[_target(_MODELS[r.key])]
        event_id = mesh.put_from(OUTSIDER, event, bus=bus)
    else:
        # A domain sends on its own bus: its forward rule carries to central what it may send.
        event_id = mesh.domain(DOMAIN_OF[account]).put(event)
    return Sent(r, kind, account, event_id)


def _snapshot(mesh: LocalMesh) -> dict[str, Any]:
    """Central's registry, every domain's state table, every account's catalog and grants."""
    state: dict[str, Any] = {}
    with mesh.quiet():
        tables = [(mesh.central, mesh.central.resources.registry_table)] + [
            (d, d.resources.state_table) for d in mesh.domains.values()
        ]
        for handle, table in tables:
            pages = handle.client("dynamodb").get_paginator("scan").paginate(TableName=table)
            items = [item for page in pages for item in page["Items"]]
            state[f"ddb:{table}"] = sorted(json.dumps(i, sort_keys=True) for i in items)
        for handle in [mesh.central, *mesh.domains.values()]:
            glue = handle.client("glue")
            for db in glue.get_databases()["DatabaseList"]:
                tables_ = glue.get_tables(DatabaseName=db["Name"])["TableList"]
                state[f"glue:{handle.account}:{db['Name']}"] = sorted(
                    json.dumps(
                        {k: t.get(k) for k in ("Name", "Parameters", "StorageDescriptor")},
                        sort_keys=True,
                        default=str,
                    )
                    for t in tables_
                )
            grants = handle.client("lakeformation").list_permissions()[
                "PrincipalResourcePermissions"
            ]
            state[f"lf:{handle.account}"] = sorted(
                json.dumps(g, sort_keys=True, default=str) for g in grants
            )
    return state


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in sorted({*before, *after}) if before.get(k) != after.get(k)]


def _scenario(mesh: LocalMesh) -> None:
    """Four registered domains, sales's product `orders` crawled (a declared PII column,
    subject columns), marketing's request for it pending with sales, and an erasure planned by
    sales (no approval yet)."""
    for name, account in (("sales", SALES), ("marketing", MARKETING), ("finance", FINANCE)):
        mesh.add_domain(name, account=account, datazone_project=name)
    mesh.add_domain("hr", account=HR)
    mesh.run_until_idle()
    sales = mesh.domain("sales")
    day = date(2026, 11, 1)
    sales.upload("products/orders/orders/part-0.parquet", orders_parquet(day, 5, seed=1))
    sales.upload("products/orders/daily/part-0.csv", daily_revenue_csv(day, 2, seed=2))
    base = sales.storage_uri.rstrip("/")
    sales.put(
        ProductRegistrationRequested(
            domain="sales",
            product="orders",
            tables=[
                TableSpec(
                    name="orders",
                    location=f"{base}/orders/orders/",
                    pii_columns=["email"],
                    subject_columns={"customer_id": "customer_id", "email": "email"},
                ),
                TableSpec(name="daily", location=f"{base}/orders/daily/"),
            ],
        )
    )
    mesh.run_until_idle()
    marketing = mesh.domain("marketing")
    marketing.put(
        AccessRequested(
            request_id=REQUEST_ID,
            consumer_domain="marketing",
            producer_domain="sales",
            product="orders",
            tables=["orders"],
            principals=[marketing.principal("analyst")],
            purpose="the trust matrix",
        )
    )
    # the example erasure, requested by central, planned by sales, not approved
    # (by another person than the examples' approver: four eyes)
    requested = {**example_detail(ErasureRequested), "requested_by": "privacy@example.com"}
    mesh.central.put(ErasureRequested.model_validate(requested))
    mesh.run_until_idle()
    record = mesh.request(REQUEST_ID)
    assert record is not None
    assert record.state == "PENDING"
    erasure = mesh.erasure(ERASURE_ID)
    assert erasure is not None
    assert erasure.state == "PLANNED", erasure


def run_matrix(mesh: LocalMesh) -> Matrix:
    """Send every cell's event into ``mesh`` (the scenario built) and collect the outcome."""
    cells: dict[tuple[str, str], Sent] = {}
    # Refused senders first, one event type at a time, each compared with a snapshot.
    for r in _RULES:
        refused = [k for k in KINDS if not allowed(r, k)]
        before = _snapshot(mesh)
        sent = [_send(mesh, r, k) for k in refused]
        mesh.run_until_idle()
        changed = _diff(before, _snapshot(mesh))
        for s in sent:
            s.changed = changed
            cells[(r.key, s.kind)] = s
    # Then the allowed ones, all together (they may change state: that is their right).
    for r in _RULES:
        for k in KINDS:
            if allowed(r, k):
                cells[(r.key, k)] = _send(mesh, r, k)
    mesh.run_until_idle()
    result = Matrix(mesh, cells)
    result._letters = mesh.dead_letters()
    return result


@pytest.fixture(scope="module")
def matrix() -> Iterator[Matrix]:
    with LocalMesh(name="t", central_account=CENTRAL, seed=11, datazone=True) as mesh:
        _scenario(mesh)
        yield run_matrix(mesh)


CELLS = [pytest.param(r.key, k, id=f"{r.detail_type}-{k}") for r in _RULES for k in KINDS]


@pytest.mark.parametrize(("key", "kind"), CELLS)
def test_exactly_the_senders_the_table_allows_act(matrix: Matrix, key: str, kind: str) -> None:
    cell = matrix.cells[(key, kind)]
    r = cell.rule
    rejections = matrix.rejections(cell.event_id)
    letters = matrix.dead_letters(cell.event_id)
    if allowed(r, kind):
        refused = [x for x in rejections if x["kind"] == "authorisation"]
        assert refused == [], f"{r.detail_type} from {kind} {cell.account}: {refused}"
        assert not [d for d in letters if d.attributes.get("group", "").endswith("guard")]
        calls = [e for e in matrix.mesh.timeline if e.event_id == cell.event_id]
        if _consumed(r):
            # it reached the handlers that take it (which may refuse it for the state)
            assert calls, f"{r.detail_type} from {kind} {cell.account} reached no handler"
            assert not [e for e in calls if e.group.endswith("guard")], calls
        return
    # GIVEN a sender the table refuses: nothing changed
    assert cell.changed == [], f"{r.detail_type} from {kind} {cell.account} changed {cell.changed}"
    if _unenforced(r, kind):
        return
    # AND the event is rejected visibly: once by each group it reached (a guard, or the
    # groups whose rules take it, e.g. onboarding and publication for ProductSchemaUpdated)
    groups = [d.attributes.get("group") for d in letters]
    assert groups, f"{r.detail_type} from {kind} {cell.account}: silently dropped"
    assert len(groups) == len(set(groups)), groups
    if r.source == "meshkit.operations":
        assert rejections == []  # reports are never reported on (no loops)
        return
    assert len(rejections) == len(groups), f"{r.detail_type} from {kind}: {rejections}"
    for rejection in rejections:
        assert rejection["sender_account"] == cell.account
        # for its sender, not for some missing state (the scenario holds what each event
        # names: domains, product, pending request, planned erasure)
        assert rejection["kind"] == "authorisation", (r.detail_type, kind, rejection["reason"])


def test_every_event_type_of_the_table_is_in_the_matrix() -> None:
    assert {key for key, _kind in (c.values for c in CELLS)} == {r.key for r in _RULES}
    assert {r.key for r in _RULES} == {
        m.type_key() for m in mesh_events() if m.type_key() in trust.TABLE
    }
    # every rule has a refused sender, and all but the reports one the table allows
    for r in _RULES:
        assert any(not allowed(r, k) for k in KINDS), r.key
        assert any(allowed(r, k) for k in KINDS), r.key
