"""meshkit.trust: one rule per event type, consistent with the topology, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

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
