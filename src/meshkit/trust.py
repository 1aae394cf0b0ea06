"""The mesh's trust rules as data: for every event type, who may send it and on which bus.

The only sender identity a handler trusts is the envelope's ``account`` (EventBridge sets it and
keeps it across a bus-to-bus hop); detail fields are claims. ``TABLE`` says, per event type
(``source/detail-type``), on which bus it must arrive and which kind of account may send it
there. Handlers check the sender with :func:`check` (``meshkit.handlers._common.require_sender``
wraps it for a handler context), the guard rules of ``meshkit.topology`` reject what arrives
on a bus where it has no business, ``docs/trust.md`` is generated from it
(``python -m meshkit.docgen trust docs/trust.md``), ``tests/unit/test_trust.py`` holds it
against the catalogue and every rule of the topology, and ``tests/functional/test_trust_matrix.py``
sends every event type from every kind of account.

This module imports nothing but the standard library: it ships to Lambda with the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = [
    "DOMAIN_PARTIES",
    "MESH_SOURCE_PREFIX",
    "TABLE",
    "Bus",
    "Party",
    "Route",
    "Rule",
    "accepted_types",
    "allowed_on",
    "check",
    "describe",
    "forwarded",
    "misrouted_reason",
    "rule",
    "senders_on",
    "sent_by_central",
]

#: Where an event arrives: central's mesh bus, a domain's mesh bus, or an account's default
#: bus (AWS service events).
Bus = Literal["central", "domain", "default"]


class Party(StrEnum):
    """A kind of account, as a handler resolves it for one event."""

    #: The mesh's governance account.
    CENTRAL = "central"
    #: The account registered for the domain the event acts for (the producer of a product or
    #: request; for a registration, the account being registered).
    OWNER = "owner"
    #: The consumer account of the access request the event names (for a new request: the
    #: account registered for its ``consumer_domain``).
    CONSUMER = "consumer"
    #: Central or an account in the mesh's ``erasure_requesters``/``erasure_approvers``.
    OPERATOR = "operator"
    #: This very account, on its own bus (work a domain queues for itself; never forwarded).
    SELF = "self"
    #: An AWS service of this very account (its default bus; PutEvents refuses ``aws.*``).
    AWS = "aws"
    #: DataZone, in the account that holds the mesh's DataZone domain.
    DATAZONE = "datazone"
    #: Any account of the mesh (central or a member): operational reports.
    ANY_MEMBER = "any member"


#: Every meshkit event's source starts with this (AWS service events start with ``aws.``).
MESH_SOURCE_PREFIX = "meshkit."

#: Parties that are domain accounts: their events reach central through the domain's forward
#: rule (or a PutEvents to the central bus).
DOMAIN_PARTIES = frozenset({Party.OWNER, Party.CONSUMER, Party.OPERATOR, Party.ANY_MEMBER})

_WHO: dict[Party, str] = {
    Party.CENTRAL: "the central account",
    Party.OWNER: "the owning domain's account",
    Party.CONSUMER: "the requesting consumer's account",
    Party.OPERATOR: "central or an erasure requester/approver",
    Party.SELF: "this account itself",
    Party.AWS: "AWS in this account",
    Party.DATAZONE: "DataZone's account",
    Party.ANY_MEMBER: "any mesh account",
}


@dataclass(frozen=True)
class Route:
    """Where an event is consumed: the bus it arrives on and who may send it there.

    ``groups`` narrows the route to those handler groups (empty: any group on that bus). An
    event central sends also crosses central's bus on its way to the domains it addresses (its
    subscription rules); an event a domain sends crosses the domain's own bus (its forward
    rule): :func:`sent_by_central` and :func:`forwarded` say so, no route is needed for it.
    """

    bus: Bus
    senders: tuple[Party, ...]
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """The trust rule of one event type."""

    source: str
    detail_type: str
    routes: tuple[Route, ...]
    #: What sending it does, as in "account X may not <action>".
    action: str
    #: How the handler resolves the parties (docs/trust.md prints it).
    note: str = ""
    #: The sender must also be a mesh member now (allowlist or organisation OU paths).
    member: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}/{self.detail_type}"

    def senders(self) -> tuple[Party, ...]:
        """Every party that may send it, on any bus."""
        seen: dict[Party, None] = {}
        for route in self.routes:
            seen.update(dict.fromkeys(route.senders))
        return tuple(seen)


def _r(bus: Bus, *senders: Party, groups: tuple[str, ...] = ()) -> Route:
    return Route(bus, senders, groups)


C, OW, K, OP, S, A, DZ, ANY = (
    Party.CENTRAL,
    Party.OWNER,
    Party.CONSUMER,
    Party.OPERATOR,
    Party.SELF,
    Party.AWS,
    Party.DATAZONE,
    Party.ANY_MEMBER,
)

_D, _P, _A, _PM, _E, _PUB, _DZ, _OPS = (
    "meshkit.domains",
    "meshkit.products",
    "meshkit.access",
    "meshkit.permissions",
    "meshkit.erasure",
    "meshkit.publication",
    "meshkit.dropzone",
    "meshkit.operations",
)

_RULES: tuple[Rule, ...] = (
    # -- domains ---------------------------------------------------------------------------
    Rule(
        _D,
        "DomainRegistrationRequested",
        (_r("central", OW),),
        "register a domain",
        "owner: the account being registered (`account_id`); a domain registers itself only",
        member=True,
    ),
    Rule(
        _D,
        "DomainDeregistrationRequested",
        (_r("central", OW),),
        "deregister a domain",
        "owner: `account_id`, which must be the account registered for `domain`",
    ),
    Rule(_D, "DomainRegistered", (_r("domain", C),), "announce a registration"),
    Rule(
        _D, "DomainDeregistered", (_r("central", C), _r("domain", C)), "announce a deregistration"
    ),
    # -- products --------------------------------------------------------------------------
    Rule(
        _P,
        "ProductRegistrationRequested",
        (_r("central", OW),),
        "register a product",
        "owner: the account registered for `domain`",
        member=True,
    ),
    Rule(
        _P,
        "ProductLinked",
        (_r("central", OW),),
        "report a product's links",
        "owner: the account registered for `domain`",
        member=True,
    ),
    Rule(
        _P,
        "ProductSchemaUpdated",
        (_r("central", OW),),
        "report a product's schema",
        "owner: the account registered for `domain` (the product's producer)",
        member=True,
    ),
    Rule(
        _P,
        "ProductCrawlFailed",
        (_r("central", OW),),
        "report a failed crawl",
        "owner: the account registered for `domain`",
        member=True,
    ),
    Rule(
        _P,
        "ProductDeprecated",
        (_r("central", OW),),
        "deprecate a product",
        "owner: the account registered for `domain`",
        member=True,
    ),
    Rule(_P, "ProductRegistered", (_r("domain", C),), "announce a product"),
    Rule(
        _P,
        "ProductDeprecationNotice",
        (_r("domain", C),),
        "announce a deprecation",
    ),
    # -- access ----------------------------------------------------------------------------
    Rule(
        _A,
        "AccessRequested",
        (_r("central", K),),
        "request access",
        "consumer: the account registered for `consumer_domain`; its principals must be roles "
        "of that account (a consumer requests for itself)",
        member=True,
    ),
    Rule(
        _A,
        "AccessDecided",
        (_r("central", OW),),
        "decide an access request",
        "owner: the producer account of the request (the registry's record)",
        member=True,
    ),
    Rule(
        _A,
        "AccessLinked",
        (_r("central", K),),
        "report links of an access request",
        "consumer: the consumer account of the request",
        member=True,
    ),
    Rule(
        _A,
        "AccessLinkFailed",
        # central's answer (recipients set) also reaches its own publication group
        (_r("central", K), _r("central", C, groups=("central.publication",)), _r("domain", C)),
        "report a refused grant",
        "consumer: the consumer account of the request; central tells the consumer the outcome",
        member=True,
    ),
    Rule(
        _A,
        "AccessRevoked",
        (
            _r("central", OW, K, groups=("central.access",)),
            _r("central", C, groups=("central.publication",)),
            _r("domain", C),
        ),
        "revoke an access request",
        "owner or consumer of the request; central tells both",
        member=True,
    ),
    Rule(_A, "ApprovalRequested", (_r("domain", C),), "ask for an approval"),
    Rule(_A, "AccessGranted", (_r("central", C), _r("domain", C)), "grant access"),
    Rule(_A, "AccessDenied", (_r("central", C), _r("domain", C)), "deny access"),
    Rule(_A, "AccessExpired", (_r("central", C), _r("domain", C)), "expire access"),
    # -- permissions as code ---------------------------------------------------------------
    Rule(_PM, "PermissionsApplied", (_r("central", C),), "report applied permissions"),
    Rule(_PM, "PermissionsDriftDetected", (_r("central", C),), "report permission drift"),
    # -- erasure ---------------------------------------------------------------------------
    Rule(
        _E,
        "ErasureRequested",
        (_r("central", OP),),
        "request an erasure",
        "operator: central or an account in the `erasure_requesters` setting",
    ),
    Rule(
        _E,
        "ErasureApproved",
        (_r("central", OP),),
        "approve an erasure",
        "operator: central or an account in the `erasure_approvers` setting",
    ),
    Rule(
        _E,
        "ErasureCancelled",
        (_r("central", OP),),
        "cancel an erasure",
        "operator: central or an erasure requester or approver",
    ),
    Rule(
        _E,
        "ErasurePlanned",
        (_r("central", OW),),
        "report an erasure plan",
        "owner: the account the erasure was dispatched to for `domain`",
    ),
    Rule(
        _E,
        "ErasureFailed",
        (_r("central", OW),),
        "report a failed purge",
        "owner: the account the erasure was dispatched to for `domain`",
    ),
    Rule(
        _E,
        "ErasureCompleted",
        (_r("central", OW),),
        "report a completed erasure",
        "owner: the account the erasure was dispatched to for `domain`",
    ),
    Rule(_E, "ErasureDispatched", (_r("domain", C),), "dispatch an erasure"),
    Rule(_E, "ErasureDecided", (_r("domain", C),), "decide an erasure"),
    Rule(_E, "ErasureRecorded", (_r("central", C),), "record an erasure"),
    Rule(
        _E,
        "ErasureObjectQueued",
        (_r("domain", S),),
        "queue an object's purge",
        "a domain queues its own purges on its own bus; never forwarded",
    ),
    # -- publication (DataZone) ------------------------------------------------------------
    Rule(
        _PUB,
        "DomainPublicationConfigured",
        (_r("central", OW),),
        "configure a domain's publication",
        "owner: the account registered for `domain`",
    ),
    Rule(_PUB, "ProductPublished", (_r("central", C),), "announce a publication"),
    Rule(_PUB, "ProductPublicationFailed", (_r("central", C),), "announce a failed publication"),
    Rule(_PUB, "ProductUnpublished", (_r("central", C),), "announce an unpublication"),
    Rule(
        _PUB,
        "SubscriptionRequestReceived",
        (_r("domain", C),),
        "forward a subscription request",
    ),
    # -- drop zones ------------------------------------------------------------------------
    Rule(
        _DZ,
        "DropZoneCredentialsIssued",
        (_r("domain", S),),
        "report drop-zone credentials",
        "the drop zone's own account, on its bus",
    ),
    Rule(
        _DZ,
        "DropZoneUploadAccepted",
        (_r("domain", S),),
        "report an accepted upload",
        "the drop zone's own account, on its bus",
    ),
    Rule(
        _DZ,
        "DropZoneUploadRejected",
        (_r("domain", S),),
        "report a rejected upload",
        "the drop zone's own account, on its bus",
    ),
    # -- operations ------------------------------------------------------------------------
    Rule(
        _OPS,
        "EventRejected",
        (_r("central", C, ANY), _r("domain", S)),
        "report a rejection",
        "every group reports on its own bus; domains forward theirs to central",
    ),
    Rule(
        _OPS,
        "FlowFailed",
        (_r("central", C, ANY), _r("domain", S)),
        "report a failed flow",
        "every group reports on its own bus; domains forward theirs to central",
    ),
    # -- AWS service events ----------------------------------------------------------------
    *(
        Rule(
            "aws.datazone",
            detail_type,
            (_r("default", DZ),),
            "send a DataZone event",
            "DataZone in the account holding the mesh's DataZone domain (central's)",
        )
        for detail_type in (
            "Data Source Created",
            "Data Source Run Failed",
            "Data Source Run Succeeded",
            "Environment Deployment Completed",
            "Environment Deployment Failed",
            "Subscription Request Created",
        )
    ),
    Rule(
        "aws.glue",
        "Glue Crawler State Change",
        (_r("default", A),),
        "report a crawler state",
        "the domain's own crawler",
    ),
    Rule(
        "aws.glue",
        "Glue Data Catalog Database State Change",
        (_r("default", A),),
        "report a catalog change",
        "the account's own Glue Data Catalog",
    ),
    Rule("aws.s3", "Object Created", (_r("default", A),), "report an object", "the own bucket"),
    Rule("aws.s3", "Object Deleted", (_r("default", A),), "report an object", "the own bucket"),
    Rule(
        "aws.events",
        "Scheduled Event",
        (_r("default", A),),
        "fire a schedule",
        "the account's own schedule rule",
    ),
)

#: Every event type's rule, by ``source/detail-type``.
TABLE: Mapping[str, Rule] = {r.key: r for r in _RULES}


def rule(event: object) -> Rule:
    """The rule of an event model, event instance or ``source/detail-type`` key."""
    if isinstance(event, str):
        key = event
    else:
        key = f"{getattr(event, 'SOURCE', '?')}/{getattr(event, 'DETAIL_TYPE', '?')}"
    try:
        return TABLE[key]
    except KeyError:
        raise KeyError(
            f"no trust rule for {key}; add one to meshkit.trust.TABLE (who may send it, on which "
            "bus)"
        ) from None


def senders_on(r: Rule, bus: Bus, group: str | None = None) -> tuple[Party, ...]:
    """Who may send ``r``'s event to handlers on ``bus`` (of ``group``, when given; a route
    without groups serves any group); empty: it has no business there."""
    out: dict[Party, None] = {}
    for route in r.routes:
        if route.bus == bus and (group is None or not route.groups or group in route.groups):
            out.update(dict.fromkeys(route.senders))
    return tuple(out)


def sent_by_central(r: Rule) -> bool:
    """Central sends it (it then crosses central's bus, towards the domains it addresses)."""
    return any(Party.CENTRAL in route.senders for route in r.routes)


def forwarded(r: Rule) -> bool:
    """A domain sends it to central (put on its own bus, forwarded by the domain's rule)."""
    return any(route.bus == "central" and DOMAIN_PARTIES & set(route.senders) for route in r.routes)


def allowed_on(r: Rule, bus: Bus) -> tuple[bool, bool]:
    """Whether the event may arrive on ``bus`` from (central, another account).

    On central's bus, another account is a domain; on a domain's bus it is the domain
    itself (any third account has no business there).
    """
    parties = set(senders_on(r, bus))
    if bus == "central":
        from_central = sent_by_central(r) or bool(
            parties & {Party.CENTRAL, Party.OPERATOR, Party.ANY_MEMBER}
        )
        return from_central, bool(parties & DOMAIN_PARTIES)
    if bus == "domain":
        return Party.CENTRAL in parties, Party.SELF in parties or forwarded(r)
    return False, False


def accepted_types(bus: Bus) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The detail types of meshkit's events that may arrive on mesh bus ``bus`` from (central,
    another account), sorted: what :func:`allowed_on` lets in, for the bus's guard rule.

    Raises ValueError when two meshkit sources share a detail type: a guard matching detail
    types alone would then let one through for the other.
    """
    if bus == "default":
        raise ValueError("the default bus carries AWS service events; it has no guard")
    mesh = [r for r in TABLE.values() if r.source.startswith(MESH_SOURCE_PREFIX)]
    seen: dict[str, str] = {}
    for r in mesh:
        other = seen.setdefault(r.detail_type, r.source)
        if other != r.source:
            raise ValueError(
                f"detail type {r.detail_type} is used by {other} and {r.source}; give meshkit "
                "events unique detail types (the guard rules match detail types)"
            )
    from_central = sorted(r.detail_type for r in mesh if allowed_on(r, bus)[0])
    from_other = sorted(r.detail_type for r in mesh if allowed_on(r, bus)[1])
    return tuple(from_central), tuple(from_other)


def describe(parties: Collection[Party]) -> str:
    return " or ".join(_WHO[p] for p in parties) or "nobody"


def check(
    r: Rule,
    *,
    sender: str,
    bus: Bus,
    accounts: Mapping[Party, str | Collection[str] | None],
    group: str | None = None,
) -> str | None:
    """Why ``sender`` may not send ``r``'s event on ``bus`` (None: it may).

    ``accounts`` names, per party of the rule, the account(s) it resolves to for this event;
    a party the caller could not resolve (None) matches nobody. ``ANY_MEMBER`` matches any
    sender here (membership is the caller's check). Raises ValueError when a party of the rule
    is missing from ``accounts``: a handler must resolve every party its event allows.
    """
    parties = senders_on(r, bus, group)
    if not parties:
        return misrouted_reason(r, sender=sender, bus=bus)
    for party in parties:
        if party is Party.ANY_MEMBER:
            return None
        if party not in accounts:
            raise ValueError(
                f"{r.detail_type}: the handler did not resolve party {party.value!r} "
                f"(meshkit.trust.TABLE allows it on the {bus} bus)"
            )
        value = accounts[party]
        if value is None:
            continue
        allowed = {value} if isinstance(value, str) else set(value)
        if sender in allowed:
            return None
    named = []
    for party in parties:
        value = accounts.get(party)
        if isinstance(value, str):
            named.append(f"{_WHO[party]} {value}")
        elif value:
            named.append(f"{_WHO[party]} ({', '.join(sorted(value))})")
        else:
            named.append(_WHO[party])
    return f"account {sender} may not {r.action} ({r.detail_type}): only {' or '.join(named)} may"


def misrouted_reason(r: Rule, *, sender: str, bus: Bus) -> str:
    """The reason an event arriving on a bus where it has no business is rejected."""
    where = ", ".join(f"the {route.bus} bus from {describe(route.senders)}" for route in r.routes)
    return (
        f"{r.detail_type} from account {sender} has no business on the {bus} bus "
        f"(meshkit.trust: it is consumed on {where})"
    )
