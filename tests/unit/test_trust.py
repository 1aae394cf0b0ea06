"""meshkit.trust: one rule per event type, consistent with the topology, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meshkit import topology, trust
from meshkit.events.catalogue import all_events
from meshkit.trust import Party


def test_every_catalogue_event_has_exactly_one_rule() -> None:
    keys = {m.type_key() for m in all_events()}
    assert keys == set(trust.TABLE)


def test_the_table_agrees_with_the_topology() -> None:
    """What domains forward and what central sends are the table's, and every group consumes
    only events the table lets reach it on its bus."""
    forwarded = {k for k, r in trust.TABLE.items() if trust.forwarded(r)}
    assert forwarded == {m.type_key() for m in topology.DOMAIN_EMITS}
    central = {m.type_key() for m in topology.CENTRAL_EMITS}
    assert central <= {k for k, r in trust.TABLE.items() if trust.sent_by_central(r)}
    for g in (*topology.GROUPS, *topology.OPTIONAL_GROUPS):
        bus: trust.Bus = g.role
        for model in (*g.events, *g.operator_events):
            parties = trust.senders_on(trust.rule(model), bus, g.name)
            assert parties, f"{g.name} consumes {model.__name__} the table keeps off its bus"
            if g.role == "central" and model in g.events:
                # the group's rule takes other accounts only: the table must name a domain
                assert trust.DOMAIN_PARTIES & set(parties), (g.name, model.__name__)
            if g.role == "domain":
                assert parties == (Party.CENTRAL,), (g.name, model.__name__)
        for model in g.own_events:
            own = Party.CENTRAL if g.role == "central" else Party.SELF
            assert own in trust.senders_on(trust.rule(model), bus, g.name), model.__name__
        for model in g.aws_events:
            assert trust.senders_on(trust.rule(model), "default"), model.__name__


def _check(key: str, sender: str, bus: trust.Bus, group: str | None = None) -> str | None:
    return trust.check(
        trust.TABLE[key],
        sender=sender,
        bus=bus,
        group=group,
        accounts={
            Party.CENTRAL: "111111111111",
            Party.OWNER: "222222222222",
            Party.CONSUMER: "333333333333",
            Party.OPERATOR: ["111111111111", "444444444444"],
        },
    )


@pytest.mark.parametrize(
    ("key", "sender", "bus", "group", "allowed"),
    [
        ("meshkit.access/AccessDecided", "222222222222", "central", None, True),
        ("meshkit.access/AccessDecided", "333333333333", "central", None, False),
        ("meshkit.access/AccessDecided", "111111111111", "central", None, False),
        ("meshkit.access/AccessRevoked", "333333333333", "central", "central.access", True),
        ("meshkit.access/AccessRevoked", "111111111111", "central", "central.access", False),
        ("meshkit.access/AccessRevoked", "111111111111", "central", "central.publication", True),
        ("meshkit.access/AccessRevoked", "333333333333", "central", "central.publication", False),
        ("meshkit.access/AccessGranted", "111111111111", "domain", None, True),
        ("meshkit.access/AccessGranted", "222222222222", "domain", None, False),
        ("meshkit.erasure/ErasureApproved", "444444444444", "central", None, True),
        ("meshkit.erasure/ErasureApproved", "222222222222", "central", None, False),
    ],
)
def test_check_allows_exactly_the_table(
    key: str, sender: str, bus: trust.Bus, group: str | None, allowed: bool
) -> None:
    reason = _check(key, sender, bus, group)
    assert (reason is None) is allowed, reason
    if not allowed:
        assert f"account {sender} may not" in (reason or "")


def test_an_event_off_its_bus_is_misrouted() -> None:
    reason = _check("meshkit.access/ApprovalRequested", "111111111111", "central")
    assert reason is not None
    assert "has no business on the central bus" in reason


def test_a_party_the_handler_did_not_resolve_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="did not resolve party 'owner'"):
        trust.check(
            trust.TABLE["meshkit.access/AccessDecided"],
            sender="222222222222",
            bus="central",
            accounts={Party.CENTRAL: "111111111111"},
        )


def test_trust_imports_only_the_standard_library() -> None:
    script = (
        "import sys; import meshkit.trust; "
        "heavy = [m for m in ('pydantic', 'boto3', 'botocore', 'meshkit.events') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# -- the guard rules -------------------------------------------------------------------------
CENTRAL_ID, OWN_ID, THIRD_ID = "111111111111", "222222222222", "999999999999"
_MESH_RULES = [r for r in trust.TABLE.values() if r.source.startswith(trust.MESH_SOURCE_PREFIX)]


def _matches(pattern: dict[str, Any], source: str, detail_type: str, account: str) -> bool:
    from moto.events.models import EventPattern  # EventBridge's matching, as the local mesh's

    event = {
        "source": source,
        "detail-type": detail_type,
        "account": account,
        # what central's subscription rules look for: events it addresses to OWN_ID
        "detail": {"recipients": [OWN_ID]},
    }
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def _guard(role: str) -> dict[str, Any]:
    return topology.guard_pattern(role, central_account=CENTRAL_ID, account=OWN_ID)  # type: ignore[arg-type]


def _senders(role: str) -> list[tuple[str, str]]:
    """(account, kind) of every kind of sender a bus can see."""
    if role == "central":
        return [(CENTRAL_ID, "central"), (OWN_ID, "other"), (THIRD_ID, "other")]
    return [(CENTRAL_ID, "central"), (OWN_ID, "other"), (THIRD_ID, "third")]


def _consumer_patterns(role: str) -> list[tuple[str, dict[str, Any]]]:
    """Every rule of ``role``'s mesh bus but the guard, as the constructs and the local mesh
    create them (with every feature on)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for g in topology.groups_for(role):  # type: ignore[arg-type]
        if g.guard:
            continue
        if g.events:
            if role == "central":
                pattern = topology.central_group_pattern(g, central_account=CENTRAL_ID)
            else:
                pattern = topology.domain_group_pattern(g, central_account=CENTRAL_ID)
            out.append((g.name, pattern))
        if g.operator_events:
            out.append((f"{g.name} operator", topology.operator_pattern(g)))
        if g.own_events:
            own = CENTRAL_ID if role == "central" else OWN_ID
            out.append((f"{g.name} own", topology.own_pattern(g, account=own)))
    if role == "central":
        subscription = topology.subscription_pattern(
            domain_account=OWN_ID, central_account=CENTRAL_ID
        )
        out.append(("subscription", subscription))
    else:
        out.append(("forward", topology.forward_pattern(domain_account=OWN_ID)))
    return out


@pytest.mark.parametrize("role", ["central", "domain"])
def test_guard_takes_exactly_what_the_table_keeps_off_the_bus(role: str) -> None:
    guard = _guard(role)
    bus: trust.Bus = role  # type: ignore[assignment]
    taken = 0
    for r in _MESH_RULES:
        from_central, from_other = trust.allowed_on(r, bus)
        for account, kind in _senders(role):
            allowed = {"central": from_central, "other": from_other, "third": False}[kind]
            assert _matches(guard, r.source, r.detail_type, account) is not allowed, (
                r.key,
                account,
            )
            taken += not allowed
    assert taken > len(_MESH_RULES)  # each bus keeps a good part of the catalogue off


@pytest.mark.parametrize("role", ["central", "domain"])
def test_guard_never_takes_what_another_rule_of_the_bus_consumes(role: str) -> None:
    guard = _guard(role)
    consumed = 0
    for name, pattern in _consumer_patterns(role):
        for r in _MESH_RULES:
            for account, _kind in _senders(role):
                if _matches(pattern, r.source, r.detail_type, account):
                    consumed += 1
                    assert not _matches(guard, r.source, r.detail_type, account), (
                        f"the guard of the {role} bus takes {r.key} from {account}, which "
                        f"{name} consumes"
                    )
    assert consumed >= len(topology.DOMAIN_EMITS)


@pytest.mark.parametrize("role", ["central", "domain"])
def test_what_a_rule_of_the_bus_takes_the_table_lets_in(role: str) -> None:
    """Per kind of sender, no rule of the topology takes an event the table keeps off its bus
    (so the guard, taking exactly those, and the other rules never overlap)."""
    bus: trust.Bus = role  # type: ignore[assignment]
    for name, pattern in _consumer_patterns(role):
        for r in _MESH_RULES:
            from_central, from_other = trust.allowed_on(r, bus)
            for account, kind in _senders(role):
                if _matches(pattern, r.source, r.detail_type, account):
                    allowed = {"central": from_central, "other": from_other}.get(kind, False)
                    assert allowed, f"{name} takes {r.key} from {account} ({kind})"


@pytest.mark.parametrize("role", ["central", "domain"])
def test_guard_takes_unknown_meshkit_types_and_leaves_other_sources(role: str) -> None:
    guard = _guard(role)
    for account, _kind in _senders(role):
        assert _matches(guard, "meshkit.access", "AccessGrantedTwice", account)
        assert not _matches(guard, "team.logistics", "AccessGranted", account)
        assert not _matches(guard, "aws.glue", "Glue Crawler State Change", account)


@pytest.mark.parametrize("role", ["central", "domain"])
def test_guard_pattern_fits_eventbridge_default_quota(role: str) -> None:
    # EventBridge's default "event pattern size" quota: 2,048 characters (raisable to 4,096).
    assert len(json.dumps(_guard(role), separators=(",", ":"))) <= 2048


def test_detail_types_are_unique_across_meshkit_sources() -> None:
    types = [r.detail_type for r in _MESH_RULES]
    assert len(types) == len(set(types))
    assert trust.accepted_types("central")[0]  # the guard relies on it: no ValueError


def test_the_default_bus_has_no_guard() -> None:
    with pytest.raises(ValueError, match="default bus"):
        trust.accepted_types("default")


def test_trust_page_is_generated_from_the_table() -> None:
    from meshkit.docgen import render_trust_page

    page = Path(__file__).resolve().parents[2] / "docs" / "trust.md"
    assert page.exists(), "docs/trust.md is missing: run `make schemas` and commit the result"
    assert page.read_text() == render_trust_page(), (
        "docs/trust.md is stale: run `make schemas` (python -m meshkit.docgen trust "
        "docs/trust.md) and commit the result"
    )


def test_trust_page_names_every_rule_and_what_each_guard_takes() -> None:
    from meshkit.docgen import render_trust_page

    text = render_trust_page()
    for model in all_events():
        assert f"| [`{model.__name__}`](events.md#{model.__name__.lower()}) |" in text
    for bus in ("central", "domain"):
        for detail_type in trust.accepted_types(bus)[0]:  # type: ignore[arg-type]
            assert f"`{detail_type}`" in text
    assert "from any third account, every meshkit event." in text
